# Binary packages: `cpack -G DEB` or `cpack -G RPM` in a build dir.
install(FILES ${CMAKE_SOURCE_DIR}/config/mcpd.json DESTINATION /etc/mcpd)
install(FILES ${CMAKE_SOURCE_DIR}/config/mcpd.service
        DESTINATION lib/systemd/system)
install(DIRECTORY ${MCPD_PLUGIN_OUTPUT_DIR}/ DESTINATION lib/mcpd/plugins
        FILES_MATCHING PATTERN "*.so")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/sdk/include/mcpd
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(CPACK_PACKAGE_NAME mcpd)
set(CPACK_PACKAGE_VENDOR "mcpd developers")
set(CPACK_PACKAGE_CONTACT "mcpd developers <mcpd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Daemon that hosts AI agents as plugins")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "MIT")
include(CPack)
