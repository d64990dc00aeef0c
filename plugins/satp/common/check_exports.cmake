# cmake -DLIB=<plugin.so> -P check_exports.cmake: fails unless the plugin's
# only defined dynamic symbol is mpio_plugin_entry.
execute_process(COMMAND nm -D --defined-only ${LIB}
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIB}")
endif()
string(REGEX REPLACE "[^\n]* [A-Za-z] " "" names "${out}")
string(STRIP "${names}" names)
if(NOT names STREQUAL "mpio_plugin_entry")
  message(FATAL_ERROR "${LIB} exports more than mpio_plugin_entry:\n${names}")
endif()
