"""Experiments in the cycle: the daily look at each running test (concluded on a verdict, stopped at the
planned sample without one) and the pause of a concluded test's loser, with its figures as evidence."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from agents.actions import Action, EntityRef, Evidence, StatusChange
from tools.experiment_runs import (
    Arm,
    ExperimentError,
    concluded_experiments,
    end_experiment,
    list_experiments,
)
from tools.experiment_runs import status as experiment_status


def monitor_experiments(engine: Engine, until: dt.date, notes: list[str]) -> None:
    """The daily look at each running experiment: concluded once every treatment has a verdict (the
    sequential test is valid at any look), stopped once the planned sample is reached without one."""
    for exp in [e for e in list_experiments(engine) if e.status in ("running", "pending")]:
        try:
            found = experiment_status(engine, exp.id, until=until)
        except ExperimentError as exc:
            notes.append(f"experiment {exp.name!r}: {exc}")
            continue
        if found.status != "running" or not found.comparisons:
            continue
        if all(c.winner for c in found.comparisons):
            end_experiment(engine, exp.id, until=until, stopped=False)
            notes.append(f"experiment {exp.name!r} concluded: {found.conclusion}")
        elif found.progress >= 1.0:
            end_experiment(engine, exp.id, until=until, stopped=True)
            notes.append(
                f"experiment {exp.name!r} reached its planned sample without a winner: {found.conclusion}"
            )


def experiment_actions(engine: Engine, notes: list[str]) -> list[Action]:
    """A concluded experiment's losing arms, proposed for pausing with the test's figures as evidence
    (once: the audit log does not ask again about a change answered before)."""
    actions: list[Action] = []
    for exp in concluded_experiments(engine):
        result = exp.result or {}
        arms = [Arm.model_validate(a) for a in exp.arms]
        control = arms[0]
        for arm, winner, lift, interval, p in zip(
            arms[1:],
            result.get("winners", []),
            result.get("lifts", []),
            result.get("intervals", []),
            result.get("p_values", []),
            strict=False,
        ):
            if winner is None:
                continue
            loser = control if winner == arm.name else arm
            actions.append(
                StatusChange(
                    entity=EntityRef(
                        platform=loser.platform,  # type: ignore[arg-type]
                        account_id=loser.account_id,
                        level=loser.level,
                        platform_id=loser.platform_id,
                        name=loser.name,
                    ),
                    before="ACTIVE",
                    after="PAUSED",
                    reason=f"lost experiment {exp.name!r} to {winner} on {exp.metric}",
                    evidence=[
                        Evidence(
                            source="experiment (sequential test, always-valid)",
                            summary=str(result.get("conclusion", ""))[:500],
                            figures={
                                "lift_treatment_vs_control": lift,
                                "lift_low": interval[0] if interval else None,
                                "lift_high": interval[1] if interval else None,
                                "p_value": p,
                            },
                        )
                    ],
                )
            )
        if actions:
            notes.append(f"experiment {exp.name!r} concluded: its losers are proposed for pausing")
    return actions
