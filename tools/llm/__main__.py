"""`python -m tools.llm [--threads N] [--tokens N]`: start the embedded model, ask it one structured
question and one longer text, and print one JSON line (start-up time, tokens per second). A check that
the offline default works on this machine; it reads no settings."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from pydantic import BaseModel, Field

from tools.llm.config import EmbeddedConfig, LLMConfig
from tools.llm.embedded import default_threads
from tools.llm.session import open_llm


class Headline(BaseModel):
    headline: str = Field(description="an ad headline", max_length=60)


async def probe(*, threads: int | None, tokens: int) -> dict[str, object]:
    started = time.perf_counter()
    async with open_llm(LLMConfig(embedded=EmbeddedConfig(threads=threads), seed=1)) as llm:
        ready = time.perf_counter() - started
        ask = [{"role": "user", "content": "Write an ad headline for trail running shoes."}]
        headline = await llm.structured(ask, Headline, temperature=0.0, max_tokens=48)
        story = [{"role": "user", "content": "Tell a long story about a cat."}]
        text = await llm.complete(story, temperature=0.0, max_tokens=tokens)
        return {
            "model": llm.model,
            "threads": threads or default_threads(),
            "start_s": round(ready, 2),
            "structured": headline.model_dump(),
            "text_tokens": text.usage.completion_tokens,
            "text_tokens_per_s": round(text.usage.completion_tokens / max(text.usage.latency_s, 1e-9), 1),
            "overall_tokens_per_s": round(llm.usage.completion_tokens_per_s, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.llm", description=__doc__)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: half the cores)")
    parser.add_argument("--tokens", type=int, default=128, help="length of the text answer")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(probe(threads=args.threads, tokens=args.tokens))))


if __name__ == "__main__":
    main()
