#!/usr/bin/env python3
"""Renders every chat template fixture with jinja2 as Hugging Face transformers does (apply_chat_template:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]), globals
raise_exception and strftime_now, the tojson override) and writes expected.json, which TemplateRenderTests compares
byte for byte with engine's interpreter.

Usage (from the repository root):
  python3 tests/Engine.Tests/Templating/Reference/render.py [SHARED_DATA]
SHARED_DATA defaults to ../shared/data; Llama 3.1 and Qwen 3 templates are read from its hf-tokenizers/ folder.
strftime_now is pinned to 2024-07-26 09:05:00 (the tests pin the same clock)."""
import json, os, sys
from datetime import datetime
import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "..", "Templates")
FIXED_NOW = datetime(2024, 7, 26, 9, 5, 0)


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


SYSTEM = {"role": "system", "content": "You are a terse assistant.  "}
CONVERSATIONS = {
    "multi_turn": [SYSTEM,
                   {"role": "user", "content": "Hi there!"},
                   {"role": "assistant", "content": " Hello. How can I help?\n"},
                   {"role": "user", "content": "Say \"ok\" in JSON: {\"a\": 1}\n\nThanks é 😀"},
                   {"role": "assistant", "content": "ok"}],
    "no_system": [{"role": "user", "content": "What is 2+2?"},
                  {"role": "assistant", "content": "4"}],
    "open_turn": [SYSTEM,
                  {"role": "user", "content": "Tell me a joke."}],
    "thinking": [{"role": "user", "content": "Is 7 prime?"},
                 {"role": "assistant", "content": "<think>\nCheck divisors 2..2.\n</think>\n\nYes, 7 is prime."},
                 {"role": "user", "content": "And 9?"},
                 {"role": "assistant", "content": "<think>\n9 = 3 * 3.\n</think>\n\nNo, 9 = 3 x 3."}],
}

MODEL_TEMPLATES = {  # name -> (bos, eos)
    "llama3_2": ("<|begin_of_text|>", "<|eot_id|>"),
    "qwen2_5": (None, "<|im_end|>"),
    "mistral_v0_1": ("<s>", "</s>"),
    "mistral_v0_3": ("<s>", "</s>"),
    "tinyllama_zephyr": ("<s>", "</s>"),
    "gemma2": ("<bos>", "<eos>"),
    "llama2_chat": ("<s>", "</s>"),
    "vicuna": ("<s>", "</s>"),
    "llama3_1": ("<|begin_of_text|>", "<|eot_id|>"),
    "qwen3": (None, "<|im_end|>"),
}
SHARED = {"llama3_1": "hf-tokenizers/llama3_1/tokenizer_config.json", "qwen3": "hf-tokenizers/qwen3/tokenizer_config.json"}


def load_template(name, shared):
    if name in SHARED:
        with open(os.path.join(shared, SHARED[name]), encoding="utf-8") as f:
            return json.load(f)["chat_template"]
    with open(os.path.join(TEMPLATES, name + ".jinja"), encoding="utf-8") as f:
        return f.read()


def render(env, source, context):
    try:
        return {"output": env.from_string(source).render(**context)}
    except jinja2.exceptions.TemplateError as e:
        return {"error": str(e)}


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "..", "..", "shared", "data")
    env = make_env()
    cases = []
    for name, (bos, eos) in MODEL_TEMPLATES.items():
        source = load_template(name, shared)
        for conv_name, messages in CONVERSATIONS.items():
            for agp in (False, True):
                thinking_options = (None, True, False) if name == "qwen3" else (None,)
                for thinking in thinking_options:
                    context = {"messages": messages, "bos_token": bos or "", "eos_token": eos,
                               "add_generation_prompt": agp, "tools": None}
                    if thinking is not None:
                        context["enable_thinking"] = thinking
                    case = {"template": name, "conversation": conv_name, "add_generation_prompt": agp,
                            "enable_thinking": thinking, "bos_token": bos or "", "eos_token": eos}
                    case.update(render(env, source, context))
                    cases.append(case)
    features = load_template("features", shared)
    data = {"b": 2, "a": "x", "c": {"d": [1, 2]}, "e": ["first", "second"]}
    for conv_name in ("multi_turn", "no_system"):
        context = {"messages": CONVERSATIONS[conv_name], "x": 1, "data": data}
        case = {"template": "features", "conversation": conv_name, "data": data}
        case.update(render(env, features, context))
        cases.append(case)
    whitespace = load_template("whitespace", shared)
    for conv_name in ("multi_turn", "no_system"):
        case = {"template": "whitespace", "conversation": conv_name}
        case.update(render(env, whitespace, {"messages": CONVERSATIONS[conv_name]}))
        cases.append(case)
    out = {"generator": "render.py", "jinja2": jinja2.__version__, "now": FIXED_NOW.isoformat(),
           "conversations": CONVERSATIONS, "cases": cases}
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases written")


if __name__ == "__main__":
    main()
