# ctest script: configure and build examples/plugins/psp_skeleton out of
# tree, exactly as its README describes, into BIN.
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${BIN} -G Ninja
          -DCMAKE_C_COMPILER=${CC} -DMPIO_INCLUDE_DIR=${MPIO_INCLUDE_DIR}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the skeleton failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BIN} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the skeleton failed")
endif()
