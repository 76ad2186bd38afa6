"""Hostile manifests, and names that belong to the project."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.base import (
    GOOD,
    Attempt,
    case,
    folder,
    score,
    scored,
)

# -- the manifest ---------------------------------------------------------------------------------------


@case("manifest is a link out of the folder")
def _(root: Path) -> Attempt:
    outside = root / "elsewhere.yaml"
    outside.write_text(GOOD + "secret_key_of_someone_else: 1\n")
    sub = folder(root, None)
    (sub / "submission.yaml").symlink_to(outside)
    return Attempt(score(sub), "leaves the submission folder")


@case("manifest over 64 KiB")
def _(root: Path) -> Attempt:
    return scored(root, GOOD + "description: '" + "x" * 70_000 + "'\n", "is over 65536 bytes")


@case("YAML nested 20,000 deep")
def _(root: Path) -> Attempt:
    return scored(root, GOOD + "description: " + "[" * 20_000 + "]" * 20_000 + "\n", "nested too deeply")


@case("YAML python tag")
def _(root: Path) -> Attempt:
    tag = f"description: !!python/object/apply:os.system ['touch {root / 'pwned'}']\n"
    return scored(root, GOOD + tag, "not valid YAML")


@case("YAML alias bomb")
def _(root: Path) -> Attempt:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return scored(root, GOOD + "bomb:\n" + "\n".join("  " + line for line in lines) + "\n", "bomb")


@case("manifest is a list")
def _(root: Path) -> Attempt:
    return scored(root, "- name: h\n- team: t\n", "submission.yaml")


@case("manifest is empty")
def _(root: Path) -> Attempt:
    return scored(root, "", "submission.yaml")


@case("manifest is not UTF-8")
def _(root: Path) -> Attempt:
    sub = folder(root, None)
    (sub / "submission.yaml").write_bytes(b"name: \xff\xfe\x00h\nteam: t\n")
    return Attempt(score(sub), "submission.yaml")


@case("manifest has an unknown key")
def _(root: Path) -> Attempt:
    return scored(root, GOOD + "run_this: rm -rf /\n", "run_this")


@case("format pickle")
def _(root: Path) -> Attempt:
    return scored(root, GOOD.replace("format: safetensors", "format: pickle"), "format")


@case("NUL byte in a file name")
def _(root: Path) -> Attempt:
    return scored(root, GOOD + 'files: {weights: "w\\0.safetensors"}\n', "is not a usable file name")


@case("file name of 300 characters")
def _(root: Path) -> Attempt:
    return scored(root, GOOD + f"files: {{weights: {'w' * 300}.safetensors}}\n", "is not a usable file name")


@case("name of 101 characters")
def _(root: Path) -> Attempt:
    return scored(root, GOOD.replace("name: h", "name: " + "n" * 101), "at most 100 characters")


@case("markup and ANSI escapes in the name")
def _(root: Path) -> Attempt:
    manifest = GOOD.replace("name: h", 'name: "evil[/] [bold]x\\e[31m\\u202e"').replace("identity", "test-fails-late")
    return scored(root, manifest, "failed on denoise-demo-s25")


# -- names that belong to the project --------------------------------------------------------------------

for _claim, _edit in {
    "team 'bench baselines'": lambda m: m.replace("team: t", "team: bench baselines"),
    "team 'Bench-Reference Models'": lambda m: m.replace("team: t", "team: Bench-Reference Models"),
    r"team 'bench\u200bbaselines'": lambda m: m.replace("team: t", 'team: "bench\\u200bbaselines"'),
    "name 'IDENTITY'": lambda m: m.replace("name: h", "name: IDENTITY"),
    "name 'fsrcnn_x2'": lambda m: m.replace("name: h", "name: fsrcnn_x2"),
    "tag 'baseline'": lambda m: m + "tags: [fast, baseline]\n",
    "tag 'Reference'": lambda m: m + "tags: [Reference]\n",
}.items():
    case(f"claims {_claim}")(
        lambda root, claim=_claim, edit=_edit: Attempt(score(folder(root, edit(GOOD))), f"claims {claim}")
    )
