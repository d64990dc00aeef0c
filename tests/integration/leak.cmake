# Resource bounds (issue #8): 1000 path reconnects under a verifying load
# leak no fd, no thread and no memory (tests/integration/leak_lab_test.cc).
# The 10-minute soak is bench/soak/soak.sh, not part of CI. Included by
# CMakeLists.txt in this folder.
mpio_lab_fixture(leak 2)
add_executable(leak_lab_test leak_lab_test.cc)
target_compile_options(leak_lab_test PRIVATE ${MPIO_WARNINGS})
target_link_libraries(leak_lab_test PRIVATE mpio_lab_env mpio_bench mpio_soak_stats
  mpio_test_main doctest::doctest)
add_dependencies(leak_lab_test ${MPIO_ALL_PLUGINS})
mpio_lab_test(leak_reconnects leak $<TARGET_FILE:leak_lab_test>)
# The test gives up by itself after 90 s of reconnects; this is the backstop.
set_tests_properties(leak_reconnects PROPERTIES TIMEOUT 150)
