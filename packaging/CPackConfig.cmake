# Binary packages, one layout per configuration (packaging/README.md):
#   cmake -B b -DCMAKE_INSTALL_PREFIX=/usr -DMCPD_PACKAGE_FORMAT=DEB && cpack -G DEB
#   cmake -B b -DCMAKE_INSTALL_PREFIX=/usr -DMCPD_PACKAGE_FORMAT=RPM && cpack -G RPM
# packaging/build-packages.sh does both. Two packages each: the runtime
# (mcpd) and the SDK (mcpd-dev / mcpd-devel), which needs the same runtime
# version. Library dependencies are found by dpkg-shlibdeps and rpm's
# automatic requires, never listed here.
set(_pkgdir ${CMAKE_BINARY_DIR}/packaging)

set(CPACK_PACKAGE_NAME mcpd)
set(CPACK_PACKAGE_VENDOR "mcpd developers")
set(CPACK_PACKAGE_CONTACT "${MCPD_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Summaries are per package (CPACK_PACKAGE_DESCRIPTION_SUMMARY would be
# prepended to both Debian descriptions).
set(_runtime_summary "daemon that hosts AI agents as plugins")
set(_dev_summary "SDK to build plugins for mcpd")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)

set(_runtime_desc
"mcpd runs AI agents written as shared-object plugins. Its event loop
loads plugins from the packaged and the local plugin directories, routes
tasks to them by capability and keeps every acknowledged task in LMDB.
Clients use a REST API, the Model Context Protocol or mcpctl. This
package holds the daemon, mcpctl, mcpd-plugin-run, the bundled plugins,
the default configuration and the systemd unit.")
set(_dev_desc
"Headers (the plugin ABI, mcpd/plugin.h), a pkg-config file (mcpd-plugin)
and a CMake package (find_package(mcpd), mcpd_add_plugin()) to build
plugins for mcpd, with a complete template plugin to copy and the guide.")

# ---- Debian -------------------------------------------------------------
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME mcpd)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "${_runtime_summary}\n${_runtime_desc}")
# adduser runs in postinst; libraries come from dpkg-shlibdeps.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "adduser")
# The tools the agent plugins drive (inside the sandbox); an agent reports
# a missing one as a skipped analyzer with this install hint.
set(_agent_tools "cppcheck, clang-tidy, shellcheck, pyflakes3, python3-bandit, flawfinder, black, clang-format, python3-pytest, python3-coverage, gcc, make, cmake")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_RECOMMENDS "${_agent_tools}")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "bubblewrap")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${_pkgdir}/deb/postinst ${_pkgdir}/deb/prerm ${_pkgdir}/deb/postrm
    ${_pkgdir}/deb/conffiles)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME ${MCPD_DEV_PACKAGE})
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "${_dev_summary}\n${_dev_desc}")
# Headers include jansson.h; the .pc and CMake package go through pkg-config.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "mcpd (= ${PROJECT_VERSION}), libjansson-dev, pkg-config")
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)

# ---- rpm ------------------------------------------------------------------
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_MAIN_COMPONENT runtime)
set(CPACK_RPM_PACKAGE_RELEASE 1)
set(CPACK_RPM_PACKAGE_LICENSE "MIT")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
set(CPACK_RPM_PACKAGE_RELOCATABLE OFF)
# No /usr/lib/.build-id links: they would clash with other packages.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
set(CPACK_RPM_RUNTIME_PACKAGE_SUMMARY "${_runtime_summary}")
set(CPACK_RPM_RUNTIME_PACKAGE_SUGGESTS "cppcheck, clang-tools-extra, ShellCheck, python3-pyflakes, bandit, flawfinder, python3-black, clang, python3-pytest, python3-coverage, gcc, make, cmake, bubblewrap")
set(CPACK_RPM_RUNTIME_PACKAGE_DESCRIPTION "${_runtime_desc}")
set(CPACK_RPM_RUNTIME_USER_FILELIST
    "%config(noreplace) ${MCPD_CONFIG_FILE}"
    "%dir %attr(0750,mcpd,mcpd) ${MCPD_STATE_DIR}")
set(CPACK_RPM_RUNTIME_PRE_INSTALL_SCRIPT_FILE ${_pkgdir}/rpm/pre)
set(CPACK_RPM_RUNTIME_POST_INSTALL_SCRIPT_FILE ${_pkgdir}/rpm/post)
set(CPACK_RPM_RUNTIME_PRE_UNINSTALL_SCRIPT_FILE ${_pkgdir}/rpm/preun)
set(CPACK_RPM_RUNTIME_POST_UNINSTALL_SCRIPT_FILE ${_pkgdir}/rpm/postun)
set(CPACK_RPM_DEV_PACKAGE_NAME ${MCPD_DEV_PACKAGE})
set(CPACK_RPM_DEV_PACKAGE_SUMMARY "${_dev_summary}")
set(CPACK_RPM_DEV_PACKAGE_DESCRIPTION "${_dev_desc}")
# rpm derives pkgconfig(jansson) and pkg-config from the .pc file.
set(CPACK_RPM_DEV_PACKAGE_REQUIRES "mcpd = ${PROJECT_VERSION}-${CPACK_RPM_PACKAGE_RELEASE}")
# Directories the system already owns stay out of the file lists.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /etc /var /var/lib /usr/sbin /usr/lib/systemd /usr/lib/systemd/system
    /usr/lib64/pkgconfig /usr/lib64/cmake /usr/share/man /usr/share/man/man1
    /usr/share/man/man8 /usr/share/doc /usr/local /usr/local/lib)

include(CPack)
cpack_add_component(runtime DISPLAY_NAME "mcpd daemon and tools")
cpack_add_component(dev DISPLAY_NAME "mcpd plugin SDK" DEPENDS runtime)
