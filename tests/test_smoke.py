from cases.models import CaseState


def test_a_case_can_be_walked_to_every_state(case_in):
    for state in CaseState.values:
        assert case_in(state).state == state
