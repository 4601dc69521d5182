import pytest

from compresslab.exercises import EXERCISES, check
from compresslab.network import random_network


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_right_answer_passes_wrong_fails(name, capsys):
    expected = EXERCISES[name].expected()
    assert check(name, expected) is True
    assert "Right!" in capsys.readouterr().out
    assert check(name, expected * 1.5) is False
    wrong = capsys.readouterr().out
    assert "too large" in wrong
    assert f"{expected:g}" not in wrong.replace(f"{expected * 1.5:g}", "")   # answer not given away
    assert check(name, "many") is False


def test_expected_answers_agree_with_the_library():
    lenet = random_network((784, 300, 100, 10))
    assert EXERCISES["intro-lenet-float32-bytes"].expected() == lenet.astype("float32").storage_bits() / 8
    assert EXERCISES["intro-first-layer-flops"].expected() == lenet.layers[0].flops(1)


def test_unknown_exercise():
    with pytest.raises(ValueError, match="exercise must be one of"):
        check("nope", 1)
