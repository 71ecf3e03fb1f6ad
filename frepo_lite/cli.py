"""Command line: ``python -m frepo_lite {distill,evaluate,show,quickstart} ...`` (``--help`` on each)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path


def _count(minimum: int):
    """An argparse type: an integer >= minimum, with a message that says so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _eval_config(args, distill_width: int | None = None):
    """The evaluation networks: the paper's protocol with --protocol (Conv-NN width 128, 5 networks, steps
    by support size); otherwise --eval-width (default: the distillation's width, cheaper on a CPU)."""
    from .configs import EvalConfig
    if getattr(args, "protocol", False):
        return EvalConfig(seed=args.seed or 0)
    width = args.eval_width or distill_width or 128
    return EvalConfig(width=width, num_models=args.eval_models, steps=args.eval_steps, seed=args.seed or 0)


def _add_eval_args(p, min_models: int):
    p.add_argument("--eval-models", type=_count(min_models), default=5,
                   help="fresh networks to train (default 5" + (", 0: none)" if min_models == 0 else ")"))
    p.add_argument("--protocol", action="store_true",
                   help="the paper's evaluation: 5 fresh Conv-NN networks of width 128 (overrides --eval-*)")
    p.add_argument("--eval-width", type=_count(1), default=None,
                   help="width of the evaluation Conv-NN (default: the distillation width, else 128)")
    p.add_argument("--eval-steps", type=_count(1), default=None, help="training steps (default: by support size)")


def _fmt(r: dict) -> str:
    """Accuracies with what measured them: '93.10 +- 0.20 % (KRR ...) [test split, 5 x Conv-NN width 128]'."""
    return (f"{100 * r['acc_mean']:.2f} +- {100 * r['acc_std']:.2f} % "
            f"(KRR {100 * r['krr_acc_mean']:.2f} +- {100 * r['krr_acc_std']:.2f} %) "
            f"[{r['split']} split, {len(r['accs'])} x {r['network']}, {r['steps']} steps]")


def _distill_save_evaluate(data, cfg, out: Path, checkpoint, eval_cfg, command: str, overwrite: bool,
                           progress: bool = True):
    """Distil (resuming from checkpoint), save the set to out with its recipe, then evaluate it when eval_cfg
    is given. Returns (DistillResult, the evaluation's dict or None)."""
    from .distill import distill, krr_settings
    from .evaluate import evaluate_support
    from .export import build_metadata, save_distilled

    result = distill(data, cfg, checkpoint=checkpoint, progress=progress)
    meta = build_metadata(data.info, dataclasses.asdict(cfg),
                          dataclasses.asdict(eval_cfg) if eval_cfg is not None else None,
                          steps_done=result.steps_done, seconds=round(result.seconds, 1), command=command)
    save_distilled(out, result.images, result.labels, data.preprocessing, meta, overwrite=overwrite)
    if eval_cfg is None:
        return result, None
    evaluation = evaluate_support(result.images, result.labels, data, eval_cfg, progress=progress,
                                  **krr_settings(cfg, data.info))
    return result, evaluation


def cmd_distill(args) -> dict:
    from .configs import preset
    from .data import load_dataset

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        sys.exit(f"error: {out} already exists; choose another --out or pass --overwrite")
    overrides = {k: v for k, v in (("images_per_class", args.ipc), ("steps", args.steps), ("width", args.width),
                                   ("lr", args.lr), ("real_batch", args.batch), ("seed", args.seed),
                                   ("learn_labels", args.learn_labels), ("krr_support", args.krr_support))
                 if v is not None}
    cfg = preset(args.preset, args.dataset, **overrides)
    data = load_dataset(args.dataset, args.data_dir)
    evaluate = args.eval_models > 0 or args.protocol
    result, r = _distill_save_evaluate(
        data, cfg, out, args.checkpoint or str(out) + ".ckpt", _eval_config(args, cfg.width) if evaluate else None,
        command="python -m frepo_lite " + " ".join(sys.argv[1:]), overwrite=args.overwrite,
        progress=not args.quiet)
    print(f"distilled {len(result.images)} images in {result.seconds:.0f} s -> {out}")
    summary = {"dataset": args.dataset, "ipc": cfg.images_per_class, "distill_seconds": result.seconds,
               "out": str(out)}
    if r is not None:
        print(f"accuracy: {_fmt(r)}")
        summary["eval"] = r
    return summary


def cmd_evaluate(args) -> dict:
    from .data import load_dataset
    from .distill import krr_settings
    from .evaluate import evaluate_random_subset, evaluate_support
    from .export import load_distilled

    if args.random_subset:
        if not (args.dataset and args.ipc):
            sys.exit("error: --random-subset needs --dataset and --ipc")
        data = load_dataset(args.dataset, args.data_dir)
        r = evaluate_random_subset(data, args.ipc, _eval_config(args), seed=args.seed)
        what = f"random subset of {args.ipc} image(s)/class of {args.dataset}"
    else:
        if not args.path:
            sys.exit("error: give a distilled-set file, or --random-subset --dataset NAME --ipc N")
        ds = load_distilled(args.path)
        data = load_dataset(ds.metadata["dataset"], args.data_dir)
        recipe = ds.metadata.get("distillation") or {}
        krr = krr_settings(recipe, data.info) if recipe else {}
        r = evaluate_support(ds.images, ds.labels, data, _eval_config(args, recipe.get("width")), **krr)
        what = args.path
    print(f"{what}: accuracy {_fmt(r)}")
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1))
    return r


def cmd_show(args) -> None:
    from .export import load_distilled
    from .viz import save_grid_png

    ds = load_distilled(args.path)
    png = args.png or str(Path(args.path).with_suffix(".png"))
    if Path(png).exists() and not args.overwrite:
        sys.exit(f"error: {png} already exists; choose another --png or pass --overwrite")
    save_grid_png(png, ds.pixels(), ncols=ds.metadata["num_classes"])
    print(f"{len(ds.images)} images of {ds.metadata['dataset']} -> {png}")


def cmd_quickstart(args) -> None:
    from .configs import EvalConfig, preset
    from .data import load_dataset
    from .evaluate import evaluate_random_subset, network_name
    from .viz import save_grid_png

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_dataset("mnist", args.data_dir)
    cfg = preset("cpu", "mnist", images_per_class=1, steps=args.steps)
    eval_cfg = EvalConfig(width=cfg.width, num_models=args.eval_models, steps=args.eval_steps)
    path = out_dir / f"mnist_ipc1_{cfg.steps}steps_seed{cfg.seed}.npz"
    print(f"Distilling MNIST to 10 images ({cfg.steps} FRePo steps, width {cfg.width}), then training "
          f"{eval_cfg.num_models} fresh {network_name(eval_cfg)} networks on it and on a random subset (the "
          "paper's protocol uses width 128: python -m frepo_lite evaluate SET --protocol) ...")
    # the set's name says its settings: a second run resumes from the checkpoint and writes the same set
    result, ours = _distill_save_evaluate(data, cfg, path, path.with_suffix(".ckpt"), eval_cfg,
                                          command="quickstart", overwrite=True)
    base = evaluate_random_subset(data, 1, eval_cfg)
    save_grid_png(path.with_suffix(".png"), data.preprocessing.inverse(result.images), ncols=10)
    print(f"\n10 distilled images : {_fmt(ours)}")
    print(f"10 random real images: {_fmt(base)}")
    print(f"distillation took {result.seconds:.0f} s; set -> {path}; picture -> {path.with_suffix('.png')}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m frepo_lite", description=__doc__)
    p.add_argument("--data-dir", default=None, help="directory of <dataset>.npz files (default $FREPO_DATA_DIR, "
                                                   "else tensorflow-datasets)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("distill", help="distill a dataset with FRePo and save the set")
    d.add_argument("--dataset", required=True)
    d.add_argument("--ipc", type=_count(1), default=None, help="images per class")
    d.add_argument("--preset", default="cpu",
                   help="cpu (2-core CPU; some settings by dataset and images/class: frepo_lite.configs.CPU_ROWS), "
                        "plus (cpu with the options from FRePo's successors that beat it, where chosen: "
                        "frepo_lite.configs.PLUS_ROWS, docs/plus.md) or paper (reference protocol)")
    d.add_argument("--steps", type=_count(1), default=None,
                   help="FRePo steps (default: the preset's; cpu: 3000 at 1 img/cls, 2000 at 10)")
    d.add_argument("--width", type=_count(1), default=None)
    d.add_argument("--lr", type=_positive_float, default=None)
    d.add_argument("--batch", type=_count(1), default=None, help="real batch size")
    d.add_argument("--learn-labels", action=argparse.BooleanOptionalAction, default=None)
    d.add_argument("--krr-support", type=_count(1), default=None,
                   help="a random this many distilled images as KRR support each step (default: all of them)")
    d.add_argument("--seed", type=_count(0), default=None)
    d.add_argument("--out", required=True, help="the .npz to write")
    d.add_argument("--checkpoint", default=None, help="resumable checkpoint (default OUT.ckpt)")
    d.add_argument("--overwrite", action="store_true")
    d.add_argument("--quiet", action="store_true")
    _add_eval_args(d, min_models=0)
    d.set_defaults(func=cmd_distill)

    e = sub.add_parser("evaluate", help="train fresh networks on a distilled set (or a random subset)")
    e.add_argument("path", nargs="?")
    e.add_argument("--random-subset", action="store_true")
    e.add_argument("--dataset")
    e.add_argument("--ipc", type=_count(1))
    e.add_argument("--seed", type=_count(0), default=0)
    e.add_argument("--json", help="write the result here")
    _add_eval_args(e, min_models=1)
    e.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("show", help="write a PNG grid of a distilled set")
    s.add_argument("path")
    s.add_argument("--png")
    s.add_argument("--overwrite", action="store_true")
    s.set_defaults(func=cmd_show)

    q = sub.add_parser("quickstart", help="distill MNIST to 10 images on a CPU in a few minutes")
    q.add_argument("--out-dir", default="quickstart")
    q.add_argument("--steps", type=_count(1), default=500)
    q.add_argument("--eval-models", type=_count(1), default=2)
    q.add_argument("--eval-steps", type=_count(1), default=None, help="training steps (default: by support size)")
    q.set_defaults(func=cmd_quickstart)
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
