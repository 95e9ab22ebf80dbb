"""Currency exponents and exact conversions between platform units and warehouse micros."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit digits for the currencies ad platforms bill in (0 and 3 decimals included).
EXPONENTS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "RON": 2,
    "TRY": 2,
    "BRL": 2,
    "MXN": 2,
    "ARS": 2,
    "COP": 0,
    "CLP": 0,
    "PEN": 2,
    "INR": 2,
    "IDR": 0,
    "MYR": 2,
    "PHP": 2,
    "SGD": 2,
    "THB": 2,
    "VND": 0,
    "HKD": 2,
    "TWD": 0,
    "CNY": 2,
    "JPY": 0,
    "KRW": 0,
    "ILS": 2,
    "AED": 2,
    "SAR": 2,
    "QAR": 2,
    "EGP": 2,
    "ZAR": 2,
    "NGN": 2,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "ISK": 0,
    "UAH": 2,
    "PKR": 2,
    "BDT": 2,
}


class MoneyError(ValueError):
    """A figure that is not an exact amount in the currency's units."""


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise MoneyError(
            f"unknown currency {currency!r}: add its ISO 4217 exponent to tools/platforms/money.py"
        ) from None


def minor_to_micros(minor: int | str, currency: str) -> int:
    """Integer minor units (Meta budgets: "5000" = 50.00 USD) to micros."""
    try:
        value = int(minor)
    except (TypeError, ValueError):
        raise MoneyError(f"{minor!r} is not an integer amount of minor units") from None
    return value * 10 ** (6 - exponent(currency))


def micros_to_minor(micros: int, currency: str) -> int:
    step = 10 ** (6 - exponent(currency))
    if micros % step:
        raise MoneyError(f"{micros} micros is not a whole number of {currency} minor units")
    return micros // step


def decimal_to_micros(amount: str | int | float | Decimal, currency: str) -> int:
    """A major-unit decimal ("152.37", TikTok's 20.5) to micros, exactly; floats go through their repr."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{amount!r} is not a decimal amount") from None
    micros = value * 10**6
    if micros != micros.to_integral_value():
        raise MoneyError(f"{amount!r} {currency} has more than 6 decimals")
    exponent(currency)
    return int(micros)


def micros_to_decimal(micros: int, currency: str) -> Decimal:
    return (Decimal(micros) / 10**6).quantize(Decimal(1).scaleb(-exponent(currency)))
