# `mpio check` (the preflight lint) against a real two-path tgtd lab, with
# findings made for real: a lowered veth MTU, a refused claim rule, short
# no_path_retry with long timers, CHAP on one path only.
mpio_lab_fixture(check 2)
mpio_lab_test(check check bash ${CMAKE_CURRENT_SOURCE_DIR}/check_test.sh)
