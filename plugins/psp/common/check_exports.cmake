# ctest script: every PSP .so given in PLUGINS (';'-separated paths) must
# export exactly one defined dynamic symbol, mpio_plugin_entry.
foreach(lib ${PLUGINS})
  execute_process(COMMAND ${NM} -D --defined-only ${lib}
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${lib}")
  endif()
  string(REGEX MATCHALL "[0-9a-f]+ [A-Za-z] [^\n]+" syms "${out}")
  set(names "")
  foreach(line ${syms})
    string(REGEX REPLACE "^[0-9a-f]+ [A-Za-z] " "" name "${line}")
    list(APPEND names ${name})
  endforeach()
  if(NOT names STREQUAL "mpio_plugin_entry")
    message(FATAL_ERROR "${lib} exports '${names}', want only mpio_plugin_entry")
  endif()
  message(STATUS "${lib}: exports only mpio_plugin_entry")
endforeach()
