"""Live training curves (the reference analysis's layer 4): train and valid loss,
perplexity, the Noam learning rate, BLEU and exact match, total and per-layer gradient
norm, the parameter update ratio, and the attention heads' mean entropy and distance on
the probe set at each validation. Items are created once and updated in place."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QFontMetricsF

from attnscope.app import theme
from attnscope.core.runlog import RunSeries

PLOTS = (("loss", "loss (cross-entropy)", False), ("ppl", "perplexity", True),
         ("lr", "learning rate (Noam)", False), ("quality", "BLEU · exact match %", False),
         ("grad", "gradient norm: total, each layer thin", True), ("update", "update ratio |Δθ|/|θ|", True),
         ("entropy", "head entropy (probe set)", False),
         ("distance", "attention distance (probe set)", False))
KIND_COLORS = {"encoder": "bar", "decoder": "finished", "cross": "accent"}
ROW_PX = 190  # each row of plots is at least this tall (the dock scrolls beyond)
COL_PX = 270  # each plot is at least this wide: fewer columns (and more rows) when narrower
EMPTY = {"entropy": "not in this training log\n(newer runs log it at each validation)",
         "distance": "not in this training log\n(newer runs log it at each validation)"}


def _xy(x: Sequence[float], y: Sequence[float], log: bool = False) -> tuple[np.ndarray, np.ndarray]:
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(ya) & ((ya > 0) if log else True)
    return xa[keep], ya[keep]


class TrainingCurves(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._plots: dict[str, pg.PlotItem] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._built = False  # eight plots cost ~0.3 s: built when first painted
        self._series: RunSeries | None = None  # fed before the plots exist: drawn when built
        self._notes: dict[str, pg.TextItem] = {}
        self.columns = 4
        self.setMinimumHeight(2 * ROW_PX)

    @property
    def plots(self) -> dict[str, pg.PlotItem]:
        self._build()
        return self._plots

    @property
    def curves(self) -> dict[str, pg.PlotDataItem]:
        self._build()
        return self._curves

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        # Not showEvent: Qt "shows" background dock tabs off-screen; only a paint means seen.
        self._build()
        super().paintEvent(event)

    def _build(self) -> None:
        if self._built:
            return
        self._built = True
        legend_bg = pg.mkColor(theme.current().plot_bg)
        legend_bg.setAlpha(200)  # the legend stays readable over a curve
        for key, title, log in PLOTS:
            p = pg.PlotItem()
            p.setTitle(title, size="10pt")
            p.showGrid(x=True, y=True, alpha=0.15)
            p.setLogMode(y=log)
            p.setLabel("bottom", "step")
            p.addLegend(offset=(-4, 4), labelTextSize="8pt", brush=legend_bg)
            p.setMenuEnabled(False)
            p.getAxis("left").setWidth(52)  # room for "0.001" without labels running together
            self._plots[key] = p
        self._arrange(self._fit_columns())
        t = theme.current()
        self._curve("loss", "train_loss", "train", t.bar)
        self._curve("loss", "valid_loss", "valid", t.accent, symbol=True)
        self._curve("ppl", "train_ppl", "train", t.bar)
        self._curve("ppl", "valid_ppl", "valid", t.accent, symbol=True)
        self._curve("lr", "lr", None, t.finished)  # one curve: the title names it, no legend over it
        self._curve("quality", "bleu", "BLEU", t.accent, symbol=True)
        self._curve("quality", "exact_match", "exact %", t.finished, symbol=True)
        self._curve("grad", "grad_norm", "total", t.text)
        self._curve("update", "update_ratio", None, t.forced)
        for stat in ("entropy", "distance"):
            for kind, color in KIND_COLORS.items():
                self._curve(stat, f"{stat}:{kind}", kind, getattr(t, color), symbol=True)
        self._layer_colors = pg.colormap.get("CET-C6")
        theme.style_widget(self)
        self.set_series(self._series or RunSeries())

    def _fit_columns(self) -> int:
        """4 columns when each plot gets COL_PX, else 2, else 1."""
        return next((c for c in (4, 2) if self.width() >= c * COL_PX), 1)

    def _arrange(self, columns: int) -> None:
        """Lay the plots out in ``columns`` columns; the widget asks for a row's height
        per row of plots, so its scroll area scrolls instead of squeezing them."""
        self.columns = columns
        grid = self.ci.layout  # the plots move within the grid; they stay in the scene
        if all(p.scene() is None for p in self._plots.values()):
            for i, p in enumerate(self._plots.values()):
                self.ci.addItem(p, row=i // columns, col=i % columns)
        else:
            for p in self._plots.values():
                grid.removeItem(p)
            for i, p in enumerate(self._plots.values()):
                grid.addItem(p, i // columns, i % columns)
        for c in range(4):
            grid.setColumnStretchFactor(c, 1 if c < columns else 0)
        for r in range(len(PLOTS)):
            grid.setRowStretchFactor(r, 1 if r < -(-len(PLOTS) // columns) else 0)
        self.setMinimumHeight(-(-len(PLOTS) // columns) * ROW_PX)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if not getattr(self, "_built", False):  # pyqtgraph resizes during __init__
            return
        if self._fit_columns() != self.columns:
            self._arrange(self._fit_columns())
        QTimer.singleShot(0, self, self._retick)  # once the plots have their new heights

    def _retick(self) -> None:
        for key, _title, log in PLOTS:
            if log:
                self._log_ticks(self._plots[key])

    def _curve(self, plot: str, key: str, name: str | None, color: str, symbol: bool = False,
               width: float = 2.0) -> pg.PlotDataItem:
        kw = {"symbol": "o", "symbolSize": 5, "symbolBrush": color, "symbolPen": None} if symbol else {}
        item = self._plots[plot].plot([], [], name=name, pen=pg.mkPen(color, width=width), **kw)
        self._curves[key] = item
        return item

    def set_series(self, s: RunSeries) -> None:
        """Redraw every curve from ``s`` (cheap: a few hundred points per curve)."""
        self._series = s
        if not self._built:  # a background tab: drawn when first painted
            return
        tr, va = s.train, s.valid
        ts, vs = tr.get("step", []), va.get("step", [])
        for key, src, col, log in (("train_loss", tr, "loss", False), ("train_ppl", tr, "ppl", True),
                                   ("lr", tr, "lr", False), ("grad_norm", tr, "grad_norm", True),
                                   ("update_ratio", tr, "update_ratio", True),
                                   ("valid_loss", va, "valid_loss", False), ("valid_ppl", va, "valid_ppl", True),
                                   ("bleu", va, "bleu", False)):
            steps = ts if src is tr else vs
            self.curves[key].setData(*_xy(steps, src.get(col, []), log))
        exact = [100 * v for v in va.get("exact_match", [])]
        self.curves["exact_match"].setData(*_xy(vs, exact))
        hs = [st for st, _ in s.head_stats]
        for stat in ("entropy", "distance"):
            for kind in KIND_COLORS:
                ys = [float(np.mean(h[stat][kind])) if kind in h.get(stat, {}) else float("nan")
                      for _, h in s.head_stats]
                self.curves[f"{stat}:{kind}"].setData(*_xy(hs, ys))
        layers = sorted(s.layer_grad)
        for i, layer in enumerate(layers):
            key = f"layer:{layer}"
            if key not in self.curves:
                color = self._layer_colors.map((i % 12) / 12, mode="qcolor")
                # Unnamed: seven legend rows would cover the plot; the Gradient flow tab names them.
                self._curve("grad", key, None, color, width=1.0)
            pts = s.layer_grad[layer]
            self.curves[key].setData(*_xy([p[0] for p in pts], [p[1] for p in pts], True))
        self._sync_legends()
        self._retick()

    @staticmethod
    def _log_ticks(plot: pg.PlotItem) -> None:
        """1, 2, 5 × each decade the data spans (pyqtgraph labels every 1..9 of a short
        log axis, and they run together) when a label and a half fits between them; else
        1 and 3, else each decade, else every n-th decade."""
        ys = [np.log10(it.yData[it.yData > 0]) for it in plot.listDataItems()
              if it.yData is not None and len(it.yData)]
        ys = [y for y in ys if len(y)]
        if not ys:
            plot.getAxis("left").setTicks(None)
            return
        lo, hi = min(float(y.min()) for y in ys), max(float(y.max()) for y in ys)
        axis = plot.getAxis("left")
        need = 1.5 * QFontMetricsF(axis.style["tickFont"] or axis.font()).height()
        px_per_decade = max(plot.vb.height(), 60.0) / max(hi - lo + 0.1, 0.1)  # 0.1: the view's padding
        steps: tuple[float, ...]
        if px_per_decade * np.log10(2) >= need:  # the closest pair: 1 and 2, 5 and 10
            steps, every = (0.0, np.log10(2), np.log10(5)), 1
        elif px_per_decade * np.log10(3) >= need:  # 1 and 3
            steps, every = (0.0, np.log10(3)), 1
        else:
            steps, every = (0.0,), max(1, int(np.ceil(need / px_per_decade)))
        ticks = [(d + m, f"{10 ** (d + m):g}") for d in range(int(np.floor(lo)), int(np.ceil(hi)) + 1)
                 if d % every == 0 for m in steps if lo - 0.05 <= d + m <= hi + 0.05]
        axis.setTicks([ticks, []])

    def _sync_legends(self) -> None:
        """A legend names only curves that have points; an empty plot says why."""
        for key, plot in self._plots.items():
            legend = plot.legend
            items = [it for it in plot.listDataItems() if it.name()]
            shown = {label.text for _sample, label in legend.items}
            for it in items:
                has = it.xData is not None and len(it.xData) > 0
                if has and it.name() not in shown:
                    legend.addItem(it, it.name())
                elif not has and it.name() in shown:
                    legend.removeItem(it)
            empty = not any(it.xData is not None and len(it.xData) for it in items)
            note = self._notes.get(key)
            if empty and key in EMPTY and note is None:
                note = self._notes[key] = pg.TextItem(EMPTY[key], color=theme.current().muted,
                                                      anchor=(0.5, 0.5))
                plot.addItem(note, ignoreBounds=True)
                note.setPos(0.5, 0.5)
                plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            if note is not None and note.isVisible() != empty:
                note.setVisible(empty)
                if not empty:
                    plot.enableAutoRange()

    def clear_curves(self) -> None:
        self._series = None
        if not self._built:
            return
        for item in self.curves.values():
            item.setData([], [])
        self._sync_legends()

    def apply_theme(self) -> None:
        theme.style_widget(self)


def fake_series(steps: int = 400, every: int = 10) -> RunSeries:
    """A plausible run for demos: Noam warm-up, falling loss, rising BLEU."""
    s = RunSeries(max_steps=steps)
    recs = []
    for step in range(every, steps + 1, every):
        lr = 0.3 * 128 ** -0.5 * min(step ** -0.5, step * 50 ** -1.5)
        loss = 1.2 + 5.5 * np.exp(-step / 90)
        recs.append({"kind": "train", "step": step, "loss": loss, "ppl": float(np.exp(loss)), "lr": lr,
                     "grad_norm": 2.0 * np.exp(-step / 200) + 0.3, "update_ratio": lr * 0.4,
                     "layer_grad_norm": {f"encoder.{i}": 0.5 / (i + 1) + 0.1 * np.exp(-step / 150)
                                         for i in range(3)} | {"embed": 1.0 * np.exp(-step / 120) + 0.05},
                     "time": 1000.0 + step * 0.2})
        if step % 100 == 0:
            f = np.exp(-step / 150)
            recs.append({"kind": "valid", "step": step, "bleu": 90 * (1 - np.exp(-step / 150)),
                         "exact_match": 1 - np.exp(-step / 120), "valid_loss": loss + 0.1,
                         "valid_ppl": float(np.exp(loss + 0.1)),
                         "head_stats": {"entropy": {"encoder": [[0.5 + 0.4 * f]], "decoder": [[0.4 + 0.5 * f]],
                                                    "cross": [[0.2 + 0.7 * f]]},
                                        "distance": {"encoder": [[1.0 + f]], "decoder": [[0.8 + f]],
                                                     "cross": [[0.5 + 2 * f]]}}})
    s.add(recs)
    return s


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import show_alone

    def make() -> TrainingCurves:
        w = TrainingCurves()
        w.set_series(fake_series())
        return w

    sys.exit(show_alone(make, (1400, 560)))
