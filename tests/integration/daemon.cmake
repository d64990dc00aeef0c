# `mpio serve` as a service (issue #6): TOML config, default metrics address,
# SIGHUP reload under a verifying load, failover counter, SIGTERM. Uses the
# two-path lab of CMakeLists.txt. Included by CMakeLists.txt in this folder.
mpio_lab_test(daemon two bash ${CMAKE_CURRENT_SOURCE_DIR}/daemon_test.sh)
