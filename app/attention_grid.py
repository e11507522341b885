"""Layer x head grid of small attention heatmaps, for one attention kind at a time.

The whole grid is one mosaic image in one plot: each tile is a head's [Q, K] matrix and
NaN gaps (drawn transparent) separate them. A keystroke therefore costs one ``setImage``
and at most two axis re-ticks, not a dozen plots with their own axes. The axes repeat each
tile's tokens; clicking a tile selects it for the large view. Models deeper than
``PAGE_LAYERS`` (NLLB: 24 layers x 16 heads) are shown a page of layers at a time, each
tile titled with its layer and head, so the tiles stay large enough to read. Where the
grid is too short for a title above every tile, the columns are named once above the top
row ("H1" …) and the left axis names the layers.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QFontMetricsF, QTransform
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from attnscope.app import attention_data as ad
from attnscope.app import theme
from attnscope.app.heatmap import TokenAxis
from attnscope.app.labels_item import LabelsItem
from attnscope.app.lazy import LazyView
from attnscope.app.state import AppState
from attnscope.app.view_range import set_range
from attnscope.app.widgets import combo_box

PAGE_LAYERS = 6  # rows of heads drawn at once; deeper models page through their layers
SHORT_VIEW_PX = 400  # a grid shorter than this pages a deep model half as many layers at a time


class AttentionGrid(LazyView, QWidget):
    """Kind / mode / colour-map / scale controls above the mosaic of heatmaps."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.kind, self.mode, self.cmap_name, self.shared = "encoder", "heads", "viridis", False
        self.stack = np.zeros((0, 0, 0, 0), np.float32)  # [rows, cols, Q, K] as drawn
        self.mosaic = np.zeros((1, 1), np.float32)
        self._geom: tuple[int, int, int, int, int, int] | None = None  # R, C, Q, K, gy, gx
        self._lead = 0  # data rows above the first row of tiles (its titles, or the column names)
        self._titled: tuple | None = None  # (geometry, mode, first layer) the titles were written for
        self._labels: tuple = ((), ())
        self.kind_box = self._combo(ad.KINDS, self._on_kind_changed)
        self.mode_box = self._combo(ad.MODES, self._on_mode_changed)
        self.cmap_box = self._combo({c: c for c in theme.COLORMAPS}, self._on_cmap_changed)
        self.scale_box = self._combo({"head": "Scale per head", "shared": "Shared scale"},
                                     self._on_scale_changed)
        self.page, self.row0 = 0, 0  # the page of layers shown, and its first layer
        self._paging = (0, PAGE_LAYERS, 1)  # (layers, layers per page, pages) the box was filled for
        self.page_box = QComboBox()
        self.page_box.currentIndexChanged.connect(self._on_page_changed)
        self.page_box.setVisible(False)
        self.measure_box = self._combo(ad.MEASURES, self._on_measure_changed)
        self.measure_box.setToolTip("Attention weights α, or norm-based attention ‖α f(x)‖ "
                                    "(Kobayashi et al. 2020): how much each token really adds")
        self.hover_label = QLabel(" ")
        # Shrinks with the window (the combo boxes too) so the grid fits 1000 px beside the side column.
        self.hover_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._bar_boxes = (self.kind_box, self.mode_box, self.measure_box, self.cmap_box, self.scale_box,
                           self.page_box)
        for box in (self.kind_box, self.mode_box, self.cmap_box, self.scale_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(9)
        bar = QHBoxLayout()
        for w in self._bar_boxes:
            bar.addWidget(w)
        bar.addWidget(self.hover_label, 1)
        self.view = pg.GraphicsLayoutWidget()
        self.plot = pg.PlotItem(axisItems={"left": TokenAxis("left", 6),
                                           "bottom": TokenAxis("bottom", 6)})
        self.view.addItem(self.plot, row=0, col=0)
        self.plot.invertY(True)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setDefaultPadding(0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setTransform(QTransform().translate(-0.5, -0.5))
        self.image.setColorMap(pg.colormap.get(self.cmap_name))
        self.image.setAcceptHoverEvents(True)
        self.image.hoverEvent = self._on_image_hover
        self.image.mouseClickEvent = self._on_image_click
        self.plot.addItem(self.image)
        self.steps = pg.PlotDataItem(connect="finite")  # outline of the selected step's row
        self.plot.addItem(self.steps)
        self.titles = LabelsItem(anchor=(0.0, 1.0), offset=(0.0, -1.0))
        self.plot.addItem(self.titles)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(self.cmap_name),
                                        interactive=False, width=12)
        self.view.addItem(self.colorbar, row=0, col=1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)
        state.inspection_changed.connect(self._on_data_changed)
        state.selection_changed.connect(self._on_data_changed)
        state.measure_changed.connect(self._on_state_measure_changed)
        self.apply_theme()

    def _combo(self, items: dict[str, str], slot) -> QComboBox:
        box = combo_box(items)
        box.currentIndexChanged.connect(slot)
        return box

    # -- options (also restored from QSettings by the main window) ---------------
    def options(self) -> dict[str, object]:
        return {"kind": self.kind, "mode": self.mode, "cmap": self.cmap_name,
                "shared": self.shared}

    def set_options(self, kind: str | None = None, mode: str | None = None,
                    cmap: str | None = None, shared: bool | None = None) -> None:
        scale = None if shared is None else ("shared" if shared else "head")
        for box, value in ((self.kind_box, kind), (self.mode_box, mode),
                           (self.cmap_box, cmap), (self.scale_box, scale)):
            if value is not None and box.findData(value) >= 0:
                box.setCurrentIndex(box.findData(value))

    def _on_kind_changed(self, _i: int) -> None:
        self.kind = self.kind_box.currentData()
        self.schedule()

    def _on_mode_changed(self, _i: int) -> None:
        self.mode = self.mode_box.currentData()
        self.schedule()

    def _on_cmap_changed(self, _i: int) -> None:
        self.cmap_name = self.cmap_box.currentData()
        cmap = pg.colormap.get(self.cmap_name)
        self.image.setColorMap(cmap)
        self.colorbar.setColorMap(cmap)

    def _on_scale_changed(self, _i: int) -> None:
        self.shared = self.scale_box.currentData() == "shared"
        self.schedule()

    def _on_page_changed(self, index: int) -> None:
        if index >= 0 and index != self.page:
            self.page = index
            self.schedule()

    def _on_measure_changed(self, _i: int) -> None:
        self.state.set_measure(self.measure_box.currentData())

    def _on_state_measure_changed(self, measure: str) -> None:
        with QSignalBlocker(self.measure_box):
            self.measure_box.setCurrentIndex(self.measure_box.findData(measure))
        self.schedule()

    def _on_data_changed(self, *_args) -> None:
        self.schedule()

    def _paged(self, stack: np.ndarray) -> np.ndarray:
        """The rows (layers) of the current page; refills the page box when the paging changes."""
        rows = stack.shape[0]
        per_page = PAGE_LAYERS if self.view.height() >= SHORT_VIEW_PX else PAGE_LAYERS // 2
        pages = -(-rows // per_page) if rows > PAGE_LAYERS else 1
        if self._paging != (rows, per_page, pages):
            self._paging = (rows, per_page, pages)
            with QSignalBlocker(self.page_box):
                self.page_box.clear()
                if pages > 1:
                    for p in range(pages):
                        self.page_box.addItem(f"Layers {p * per_page + 1}–{min(rows, (p + 1) * per_page)}")
                    self.page_box.addItem("All layers")
                self.page = min(self.page, pages) if pages > 1 else 0
                self.page_box.setCurrentIndex(self.page if pages > 1 else -1)
                self.page_box.setToolTip(f"Which of the model's {rows} layers the grid shows")
            # The page box crowds the bar: the boxes may then elide their text rather than
            # push the window past a 1000 px screen (a shallow model's bar keeps its widths).
            # Set before the box shows: showing it lays the window out at once.
            for box in self._bar_boxes:
                box.setMinimumWidth(72 if pages > 1 else 0)
            self.page_box.setVisible(pages > 1)
        if pages == 1 or self.page >= pages:  # shallow model, or "All layers"
            self.row0 = 0
            return stack
        self.row0 = self.page * per_page
        return stack[self.row0:self.row0 + per_page]

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        paging = self._paging[2] > 1 and (self.view.height() >= SHORT_VIEW_PX) != (self._paging[1] == PAGE_LAYERS)
        if paging or self._geom is not None:
            QTimer.singleShot(0, self.schedule)  # once the plot has its new height  # the page size and the room for the titles follow the grid's height

    def _header_room(self, height: int) -> int:
        """Data rows above a grid ``height`` rows tall for one line of column names (0: none fits).

        With H pixels for height + lead units, a line of T pixels needs lead >= T * height / (H - T)."""
        h = float(self.plot.vb.height())
        t = QFontMetricsF(self.titles.font).height() + 2.0
        if h < 3.0 * t:
            return 0
        return int(np.ceil(t * height / (h - t)))

    def _row_gap(self, rows: int, q: int) -> tuple[int, bool]:
        """Rows of gap between layers, in data units, so that each tile's title (drawn in
        pixels above it) clears the tile above, and whether titles fit at all.

        With H pixels for rows * (q + gap) units, a gap of T pixels needs
        gap >= T * rows * q / (H - T * rows)."""
        least = max(1, int(np.ceil(q * 0.22)))
        h = float(self.plot.vb.height())
        if h <= 0:  # not laid out yet
            return least, True
        t = QFontMetricsF(self.titles.font).height() + 2.0
        room = h - t * rows
        if room < rows * q * 2.0:  # under 2 px a row would be left: no titles
            return least, False
        return max(least, int(np.ceil(t * rows * q / room))), True

    # -- what is drawn (tests compare these with the Inspection) --------------------
    def matrix(self, row: int, col: int) -> np.ndarray:
        """The attention numbers of one drawn tile (layer ``row0 + row`` x head, or 1 x layer
        for aggregates)."""
        return self.stack[row, col]

    def tile_image(self, row: int, col: int) -> np.ndarray:
        """The same tile as it sits in the drawn image (scaled to the colour levels)."""
        if self._geom is None:
            return np.zeros((0, 0), np.float32)
        _r, _c, q, k, gy, gx = self._geom
        y0, x0 = row * (q + gy), col * (k + gx)
        return self.image.image[y0:y0 + q, x0:x0 + k]

    # -- drawing ---------------------------------------------------------------
    def refresh(self) -> None:
        ins, path = self.state.inspection, self.state.path
        if ins is None or path is None:
            return
        self.measure_box.setEnabled(ad.has_norms(ins))
        stack = self._paged(ad.grid(ins, path, self.kind, self.mode, self.state.measure))
        self.stack = stack
        rows, cols, q, k = stack.shape
        if rows == 0 or cols == 0:  # an empty decode: no decoder attention at all
            self._geom = self._titled = None
            self.image.clear()
            self.titles.set_labels(np.zeros((0, 2)), [], theme.current().muted)
            self.steps.setData([], [])
            for name in ("left", "bottom"):
                self.plot.getAxis(name).set_labels([])
            return
        q_draw, k_draw = max(q, 1), max(k, 1)
        gy, titled = self._row_gap(rows, q_draw)
        gx = max(1, int(np.ceil(k_draw * 0.1)))
        geom = (rows, cols, q_draw, k_draw, gy, gx)
        height, width = rows * (q_draw + gy) - gy, cols * (k_draw + gx) - gx
        # Too short for a title above every tile: one line of column names above the top row.
        header = 0 if titled else self._header_room(height)
        lead = max(gy, header)
        if geom != self._geom or lead != self._lead:
            if geom != self._geom:
                self.mosaic = np.full((height, width), np.nan, np.float32)
            self._geom, self._lead = geom, lead
            # half a cell of margin on the left so the first key label is not clipped
            set_range(self.plot, x=(-1.0, width - 0.5), y=(-lead - 0.5, height - 0.5))
        if (geom, self.mode, self.row0, titled, header > 0) != self._titled:  # "L1 mean", "L1 rollout": one geometry
            self._titled = (geom, self.mode, self.row0, titled, header > 0)
            titles, xy = [], []
            for r in range(rows if titled else min(rows, 1) if header else 0):
                for c in range(cols):
                    titles.append(ad.title(self.mode, self.row0 + r, c) if titled else ad.column_title(self.mode, c))
                    xy.append((c * (k_draw + gx) - 0.5, r * (q_draw + gy) - 0.5))
            self.titles.set_labels(np.array(xy), titles, theme.current().muted)
        top = float(stack.max()) if stack.size else 1.0
        if q and k:
            tiles = stack.reshape(rows, cols, q, k)
            scale = (np.full((rows, cols, 1, 1), max(top, 1e-6)) if self.shared else
                     np.maximum(tiles.max(axis=(2, 3), keepdims=True), 1e-6))
            scaled = tiles / scale
            for r in range(rows):
                y0 = r * (q_draw + gy)
                for c in range(cols):
                    x0 = c * (k_draw + gx)
                    self.mosaic[y0:y0 + q, x0:x0 + k] = scaled[r, c]
        self.image.setImage(self.mosaic, levels=(0.0, 1.0), autoLevels=False)
        self.colorbar.setVisible(self.shared)
        if self.shared:
            self.colorbar.setLevels((0.0, max(top, 1e-6)))
        q_labels, k_labels = ad.labels(ins, path, self.kind)
        self._labels = (q_labels, k_labels)
        if titled or self.mode != "heads":
            self.plot.getAxis("left").set_labels(
                list(q_labels) * rows, [r * (q_draw + gy) + i for r in range(rows) for i in range(q)], q)
        else:  # rows a few pixels tall show one piece or none: name each row's layer instead
            self.plot.getAxis("left").set_labels(
                [ad.row_title(self.row0 + r) for r in range(rows)], [r * (q_draw + gy) + (q - 1) / 2 for r in range(rows)])
        self.plot.getAxis("bottom").set_labels(
            list(k_labels) * cols, [c * (k_draw + gx) + j for c in range(cols) for j in range(k)], k)
        self._draw_step(rows, q_draw, gy, width)

    def _draw_step(self, rows: int, q: int, gy: int, width: int) -> None:
        """Outline the selected decoding step's row in every tile (decoder kinds only)."""
        step = self.state.step
        if self.kind == "encoder" or step >= q:
            self.steps.setData([], [])
            return
        xs, ys = [], []
        for r in range(rows):
            y = r * (q + gy) + step
            xs += [-0.5, width - 0.5, width - 0.5, -0.5, -0.5, np.nan]
            ys += [y - 0.5, y - 0.5, y + 0.5, y + 0.5, y - 0.5, np.nan]
        self.steps.setData(xs, ys, pen=pg.mkPen(theme.current().accent, width=1.5))

    def _locate(self, pos: QPointF) -> tuple[int, int, int, int] | None:
        """(tile row, tile col, query, key) under an image position, None in a gap."""
        if self._geom is None or not self.stack.size:
            return None
        rows, cols, q, k, gy, gx = self._geom
        x, y = int(np.floor(pos.x())), int(np.floor(pos.y()))
        r, i = divmod(y, q + gy)
        c, j = divmod(x, k + gx)
        if 0 <= r < rows and 0 <= c < cols and i < self.stack.shape[2] and j < self.stack.shape[3]:
            return r, c, i, j
        return None

    def _on_image_hover(self, ev) -> None:
        hit = None if ev.isExit() else self._locate(ev.pos())
        if hit is None:
            self.hover_label.setText(" ")
            return
        r, c, i, j = hit
        q, k = self._labels
        self.hover_label.setText(f"{ad.title(self.mode, self.row0 + r, c)}   {q[i]} → {k[j]}   "
                                 f"{self.stack[r, c, i, j]:.3f}")

    def _on_image_click(self, ev) -> None:
        hit = self._locate(ev.pos())
        if ev.button() == Qt.MouseButton.LeftButton and hit is not None:
            ev.accept()
            self.click_tile(hit[0], hit[1])

    def click_tile(self, row: int, col: int) -> None:
        """Open one tile large (what a click on it does)."""
        layer, head = ad.layer_head(self.mode, self.row0 + row, col)
        self.state.select_attention(self.kind, self.mode, layer, head)

    def apply_theme(self) -> None:
        self._geom = self._titled = None  # titles pick up the new colour
        self.restyle(self.view)


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    sys.exit(run_panel(AttentionGrid, (1000, 650)))
