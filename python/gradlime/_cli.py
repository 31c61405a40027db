"""The command line: ``gradlime`` (or ``python -m gradlime``).

    gradlime demo                     the bundled network, explained (see _demo)
    gradlime explain MODEL DATA --method M --out FILE [--plot PNG] [--device cuda] [...]
    gradlime info                     what this build can do
    gradlime reproduce {paper1,paper2,all} --out DIR [--quick]   the papers' figures and CSVs

MODEL is an ONNX file (run natively, or by onnxruntime) or a scikit-learn estimator saved with
joblib (.joblib, .pkl); DATA a CSV with a header row, a Parquet file or a .npy array; the output a
CSV or Parquet table with a column per feature, "<feature> stderr" beside each, and fx and
base_value. A bad file or argument is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import os
import pathlib
import sys
from typing import Any

import numpy as np

from . import _demo
from ._export import table

__all__ = ["main"]

SAMPLED = ("smoothgrad", "clime", "stein", "unigrad", "lime", "kernel_shap")


class CliError(Exception):
    """A one-line message for the user."""


def _read_data(path: str) -> tuple[np.ndarray, tuple[str, ...] | None]:
    suffix = pathlib.Path(path).suffix.lower()
    if not os.path.exists(path):
        raise CliError(f"no such data file: {path}")
    if suffix == ".npy":
        return np.load(path, allow_pickle=False), None
    if suffix == ".parquet":
        pd = _pandas("Parquet files")
        df = pd.read_parquet(path)
        return df.to_numpy(dtype=np.float64), tuple(str(c) for c in df.columns)
    if suffix == ".csv":
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        if len(rows) < 2:
            raise CliError(f"{path}: a CSV needs a header row and at least one row of numbers")
        header, body = rows[0], rows[1:]
        try:
            X = np.array([[float(v) for v in row] for row in body], dtype=np.float64)
        except ValueError as exc:
            raise CliError(f"{path}: not all numbers ({exc})") from None
        if X.ndim != 2 or X.shape[1] != len(header):
            raise CliError(f"{path}: every row needs {len(header)} values, as the header has")
        return X, tuple(header)
    raise CliError(f"{path}: the data must be a .csv, .parquet or .npy file")


def _pandas(what: str) -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise CliError(f"{what} need pandas: pip install 'gradlime[pandas]'") from None
    return pd


def _read_model(path: str, target: int | None) -> Any:
    from .models import Model

    if not os.path.exists(path):
        raise CliError(f"no such model file: {path}")
    suffix = pathlib.Path(path).suffix.lower()
    if suffix == ".onnx":
        return Model.from_onnx(path, target=target)
    if suffix in (".joblib", ".pkl", ".pickle"):
        try:
            import joblib
        except ImportError:
            raise CliError("scikit-learn models need joblib: pip install scikit-learn") from None
        return Model.from_sklearn(joblib.load(path), target=target)
    raise CliError(f"{path}: the model must be an .onnx file or a joblib file (.joblib, .pkl)")


def _write(names: list[str], rows: np.ndarray, path: str) -> None:
    suffix = pathlib.Path(path).suffix.lower()
    if suffix == ".parquet":
        _pandas("Parquet files").DataFrame(rows, columns=names).to_parquet(path)
    elif suffix == ".csv":
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(names)
            w.writerows(rows.tolist())
    else:
        raise CliError(f"{path}: the output must be a .csv or .parquet file")


def _explain(args: argparse.Namespace) -> int:
    from ._device import resolve
    from .registry import REGISTRY

    if args.method not in REGISTRY:
        raise CliError(f"--method must be one of {', '.join(REGISTRY)}; got {args.method!r}")
    spec = REGISTRY[args.method]
    X, names = _read_data(args.data)
    model = _read_model(args.model, args.target)
    kw: dict[str, Any] = {"feature_names": names}
    if spec.seeded:
        kw["seed"] = args.seed
    if args.n_samples is not None:
        if "n_samples" not in spec.keywords:
            raise CliError(f"--n-samples does not apply to {args.method}")
        kw["n_samples"] = args.n_samples
    if args.sigma is not None:
        if spec.scale is None:
            raise CliError(f"--sigma does not apply to {args.method}")
        kw[spec.scale] = args.sigma
    if args.baseline is not None:
        if "baseline" not in spec.keywords:
            raise CliError(f"--baseline does not apply to {args.method}")
        base, _ = _read_data(args.baseline)
        kw["baseline"] = base[0] if base.ndim == 2 and len(base) == 1 else base
    if args.device is not None:
        if "device" not in spec.keywords:
            raise CliError(f"--device does not apply to {args.method} (it runs on the CPU)")
        try:  # what is missing (a CUDA build, a GPU), said before any work
            resolve(args.device, model)
        except RuntimeError as exc:
            raise CliError(str(exc)) from None
        kw["device"] = args.device
    E = spec.function(model, X, **kw)
    columns, rows = table(E)
    _write(columns, rows, args.out)
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
        except ImportError:
            raise CliError("--plot needs matplotlib: pip install 'gradlime[plot]'") from None
        E.plot().figure.savefig(args.plot, dpi=110)
    print(f"explained {np.atleast_2d(E.values).shape[0]} points with {args.method}: {args.out}")
    return 0


def _info(_: argparse.Namespace) -> int:
    import gradlime

    from . import _core

    print(f"gradlime {gradlime.__version__}")
    print(f"  vector instructions: {_core.simd}")
    print(f"  OpenMP: {'yes' if _core.openmp else 'no'}, {_core.max_threads()} threads")
    cuda = _core.cuda_info()
    if not cuda["compiled"]:
        print("  CUDA: no (this build has no CUDA backend)")
    elif cuda["devices"]:
        print(f"  CUDA: yes, {cuda['devices']} device(s): {', '.join(cuda['names'])}")
    else:
        print(f"  CUDA: built in, no usable device ({cuda['error']})")
    for extra, module in (
        ("onnx", "onnx"),
        ("onnxruntime", "onnxruntime"),
        ("pandas", "pandas"),
        ("matplotlib", "matplotlib"),
        ("tqdm", "tqdm"),
        ("torch", "torch"),
        ("scikit-learn", "sklearn"),
    ):
        try:
            mod = __import__(module)
            found = getattr(mod, "__version__", "yes")
        except ImportError:
            found = "no"
        print(f"  {extra}: {found}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from . import experiments

    for paper in ("paper1", "paper2") if args.paper == "all" else (args.paper,):
        if paper == "paper1":
            files = experiments.run_paper1(
                args.out, quick=args.quick, seed=args.seed, uci=args.uci, progress=True
            )
        else:
            files = experiments.run_paper2(
                args.out, quick=args.quick, seed=args.seed, progress=True
            )
        for path in files.values():
            print(path)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gradlime", description="Local explanations of models.")
    sub = parser.add_subparsers(dest="command", required=True)
    _demo.add_parser(sub)
    e = sub.add_parser("explain", help="explain the rows of a data file by a model file")
    e.add_argument("model", help="an .onnx file, or a scikit-learn estimator saved with joblib")
    e.add_argument("data", help="a .csv (with a header row), .parquet or .npy file of points")
    e.add_argument(
        "--method", required=True, help="smoothgrad, clime, stein, lime, kernel_shap, ..."
    )
    e.add_argument("--target", type=int, default=None, help="the model's output column")
    e.add_argument("--sigma", type=float, default=None, help="the neighbourhood's scale")
    e.add_argument("--n-samples", type=int, default=None)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--baseline", default=None, help="a data file of the baseline row(s)")
    e.add_argument(
        "--device",
        default=None,
        help="cpu, cuda or cuda:N: where the sampling methods run (an ONNX or MLP model on a GPU)",
    )
    e.add_argument("--out", required=True, help="a .csv or .parquet file for the attributions")
    e.add_argument("--plot", default=None, help="a .png of the attributions (needs matplotlib)")
    sub.add_parser("info", help="what this build of gradlime can do")
    r = sub.add_parser("reproduce", help="run a paper's experiments: CSVs and figures")
    r.add_argument(
        "paper",
        choices=["paper1", "paper2", "all"],
        help="paper1: equivalence and robustness; paper2: robustness and faithfulness",
    )
    r.add_argument("--out", required=True, help="the folder for the CSVs and PNGs")
    r.add_argument("--quick", action="store_true", help="small sizes: a minute or two")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--uci",
        default=None,
        help="a folder with paper 1's bankruptcy.csv / online_shopping.csv (label last), if you have them",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run = {"demo": _demo.run, "explain": _explain, "info": _info, "reproduce": _reproduce}[
        args.command
    ]
    try:
        return run(args)
    except (CliError, ValueError, TypeError, OSError, ImportError, KeyError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"gradlime: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradlime: interrupted", file=sys.stderr)
        return 130
