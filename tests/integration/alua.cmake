# ALUA claim rules on real targets (tests/integration/alua_test.sh):
# a tgtd lab (TPGS=0, no RTPG) for the rule fallback, an istgt lab (TPGS=0
# but RTPG/STPG work) for `tpgs=forced` and the periodic re-probe.
mpio_lab_fixture(aluarule 2)
mpio_lab_fixture(alua 2 --target istgt)
mpio_lab_test(alua_rule_fallback aluarule
  bash ${CMAKE_CURRENT_LIST_DIR}/alua_test.sh fallback)
mpio_lab_test(alua_istgt alua bash ${CMAKE_CURRENT_LIST_DIR}/alua_test.sh istgt)
