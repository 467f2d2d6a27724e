# mcpd_add_plugin(NAME SOURCES...)
# Builds NAME.so (no "lib" prefix) with hidden visibility, so the only
# exported symbol is the one MCPD_PLUGIN() marks, and collects it in
# MCPD_PLUGIN_OUTPUT_DIR when that is set.
function(mcpd_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(TARGET mcpd_sdk)
    target_link_libraries(${name} PRIVATE mcpd_sdk)
  endif()
  if(MCPD_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${MCPD_PLUGIN_OUTPUT_DIR})
  endif()
endfunction()
