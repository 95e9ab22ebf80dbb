"""The wiring, as the diagram reads: a scheduled cycle runs perceive -> analyse -> create -> plan ->
(approve) -> execute -> report; a chat request enters at the router (`chat`), which answers from the
warehouse and ends, sends its proposals to plan, or starts the full cycle."""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graph import nodes
from graph.context import CycleContext
from graph.state import CycleState


def build(checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    g = StateGraph(CycleState, context_schema=CycleContext)
    g.add_node("chat", nodes.chat)
    g.add_node("perceive", nodes.perceive)
    g.add_node("analyse", nodes.analyse)
    g.add_node("create", nodes.create)
    g.add_node("plan", nodes.plan)
    g.add_node("approve", nodes.approve)
    g.add_node("execute", nodes.execute)
    g.add_node("report", nodes.report)
    g.add_conditional_edges(START, nodes.route_start, ["chat", "perceive", "plan"])
    g.add_conditional_edges("chat", nodes.route_after_chat, ["perceive", "plan", END])
    g.add_edge("perceive", "analyse")
    g.add_edge("analyse", "create")
    g.add_edge("create", "plan")
    g.add_conditional_edges("plan", nodes.route_after_plan, ["approve", "execute"])
    g.add_edge("approve", "execute")
    g.add_edge("execute", "report")
    g.add_edge("report", END)
    return g.compile(checkpointer=checkpointer)


def make_graph() -> CompiledStateGraph:
    """For LangGraph's own tooling (`langgraph.json`): there the server supplies persistence."""
    return build()
