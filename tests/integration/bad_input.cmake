# Bad input from below and around the engine (issue #8): a LUN that shrinks
# (and grows back) under a running export, a full disk for the log file, a
# stderr pipe nobody reads. Its own 64 MiB lab: the test resizes the LUN.
mpio_lab_fixture(badin 2 --size 64)
mpio_lab_test(bad_input badin bash ${CMAKE_CURRENT_SOURCE_DIR}/bad_input_test.sh)
