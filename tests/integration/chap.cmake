# CHAP and mutual CHAP against tgtd accounts: the mpio binary on a two-path
# lab whose target requires CHAP (lab.sh fault chap-on). Included by
# CMakeLists.txt in this folder.
mpio_lab_fixture(chap 2)
mpio_lab_test(chap chap bash ${CMAKE_CURRENT_SOURCE_DIR}/chap_test.sh)
