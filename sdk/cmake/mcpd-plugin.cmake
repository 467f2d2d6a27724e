# mcpd_add_plugin(NAME SOURCES...)
#
# Builds NAME.so (no "lib" prefix) with hidden visibility, so the only
# exported symbol is the one MCPD_PLUGIN() marks, and installs it.
#
# The same file serves mcpd's own tree and third parties (it is installed in
# the mcpd CMake package, see mcpdConfig.cmake). Variables it reads:
#   MCPD_PLUGIN_OUTPUT_DIR         where the .so is built (else the
#                                  target's own binary dir)
#   MCPD_PLUGIN_INSTALL_DIR        where `cmake --install` puts it; from
#                                  find_package(mcpd) it defaults to the
#                                  SDK's plugindir. Empty: no install rule.
#   MCPD_PLUGIN_INSTALL_COMPONENT  install component (mcpd's tree: runtime)
function(mcpd_add_plugin name)
  if(NOT ARGN)
    message(FATAL_ERROR "mcpd_add_plugin(${name}): no sources given")
  endif()
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(TARGET mcpd_sdk)
    target_link_libraries(${name} PRIVATE mcpd_sdk)    # inside mcpd's tree
  elseif(TARGET mcpd::plugin)
    target_link_libraries(${name} PRIVATE mcpd::plugin) # installed SDK
  else()
    message(FATAL_ERROR "mcpd_add_plugin(${name}): call find_package(mcpd) first")
  endif()
  if(MCPD_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${MCPD_PLUGIN_OUTPUT_DIR})
  endif()
  if(MCPD_PLUGIN_INSTALL_DIR)
    set(_component)
    if(MCPD_PLUGIN_INSTALL_COMPONENT)
      set(_component COMPONENT ${MCPD_PLUGIN_INSTALL_COMPONENT})
    endif()
    install(TARGETS ${name} LIBRARY DESTINATION ${MCPD_PLUGIN_INSTALL_DIR}
            ${_component})
  endif()
endfunction()
