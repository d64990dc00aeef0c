# Included by every SATP plugin folder (plugins/CMakeLists.txt adds the
# folders in name order, so common/ cannot define this before alua/ needs it).
include_guard(GLOBAL)

# mpio_satp_plugin(name sources...): an SATP MODULE via mpio_add_plugin that
# links the shared code statically and keeps every symbol of those static
# libraries out of the dynamic table (only mpio_plugin_entry is exported).
function(mpio_satp_plugin name)
  mpio_add_plugin(${name} satp ${ARGN})
  target_link_libraries(mpio_satp_${name} PRIVATE mpio_satp_common mpio_scsi
                        mpio_headers)
  # A version script, not just hidden visibility: libstdc++'s inline
  # templates carry default-visibility unique symbols into the .so.
  target_link_options(mpio_satp_${name} PRIVATE
    -Wl,--version-script=${CMAKE_CURRENT_FUNCTION_LIST_DIR}/plugin.map)
  set_property(TARGET mpio_satp_${name} APPEND PROPERTY LINK_DEPENDS
    ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/plugin.map)
  # Check the export rule on every test run.
  add_test(NAME satp_${name}_exports
           COMMAND ${CMAKE_COMMAND} -DLIB=$<TARGET_FILE:mpio_satp_${name}>
                   -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/check_exports.cmake)
  set_tests_properties(satp_${name}_exports PROPERTIES LABELS "unit")
endfunction()

