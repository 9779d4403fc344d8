"""brain.money.money_parse: a client's stated budget as an amount."""
from decimal import Decimal

import pytest

from brain.money import MAX_CHARS, money_parse


@pytest.mark.parametrize(("text", "amount"), [
    ("2 млн", "2000000"), ("500 тыс", "500000"), ("1,5 mln", "1500000"), ("300000 тг", "300000"),
    ("300 000 тг", "300000"), ("1 500 000 ₸", "1500000"), ("1.500.000", "1500000"), ("1,500,000", "1500000"),
    ("$50,000", "50000"), ("до 700к", "700000"), ("2 миллиона рублей", "2000000"), ("бюджет 3,2 млн ₸", "3200000"),
    ("от 1 до 2 млн", "2000000"), ("2m", "2000000"), ("5k", "5000"), ("около 2.5 млн тенге", "2500000"),
    ("1,5 ляма", "1500000"), ("1 млрд", "1000000000"),
])
def test_texts(text, amount):
    assert money_parse(text) == Decimal(amount)


@pytest.mark.parametrize("value", [
    None, True, False, "", "nothing", "без бюджета", "\x00", "\ud800", "1e20", "9" * 300, 10**20, float("inf"),
    float("nan"), -5, 0, "0", [], {"budget": 1}, "12 м²" * 0,
])
def test_not_an_amount(value):
    assert money_parse(value) is None


def test_numbers_are_taken_as_they_are():
    assert money_parse(2_000_000) == Decimal("2000000.00")
    assert money_parse(1.5) == Decimal("1.50")
    assert money_parse(Decimal("750000")) == Decimal("750000.00")


def test_reading_is_bounded():
    assert money_parse("x" * MAX_CHARS + " 2 млн") is None
    assert money_parse("слово " * 100_000) is None
