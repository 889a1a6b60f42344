// Interactive attention explorer of the attention visualization chapter.
//
// The page contains a <div class="attention-explorer"> and a JSON <script> that a
// build-time generator wrote (snippets/attention_visualization/explorer.py).
// Choosing a patch (hover, click, or arrow keys in the grid) shows that patch's
// row of CLIP's vision self-attention; choosing a word shows the BLIP decoder's
// cross-attention that wrote it. Weights are stored as integers in thousandths.
(function () {
  "use strict";

  function setup(root) {
    if (root.dataset.ready) return;
    var source = document.getElementById(root.dataset.source);
    if (!source) return;
    var data = JSON.parse(source.textContent);
    root.dataset.ready = "true";

    var labels = data.labels;
    var grid = data.grid;
    var layerSelect = root.querySelector("#ae-layer");
    var headSelect = root.querySelector("#ae-head");
    var stage = root.querySelector(".ae-stage");
    var wordBox = root.querySelector(".ae-words");
    var status = root.querySelector(".ae-status");
    var numLayers = Math.max(data.vision.length, data.cross.length);
    var numHeads = Math.max(data.vision[0].length, data.cross[0].length);

    // Controls: one option per layer, and per head plus the mean of heads.
    for (var layer = 0; layer < numLayers; layer++) {
      layerSelect.add(new Option(labels.layer + " " + layer, String(layer)));
    }
    layerSelect.value = String(numLayers - 1);
    headSelect.add(new Option(labels.mean, "mean"));
    for (var head = 0; head < numHeads; head++) {
      headSelect.add(new Option(labels.head + " " + head, String(head)));
    }

    // The image with a grid of focusable patch cells on top (roving tabindex).
    var image = document.createElement("img");
    image.src = data.image;
    // The alt text is in the page's language and quotes the scene's English caption.
    image.alt = format(labels.image_alt, { caption: data.caption });
    image.className = "ae-image";
    var cellsBox = document.createElement("div");
    cellsBox.className = "ae-cells";
    cellsBox.setAttribute("role", "grid");
    cellsBox.setAttribute("aria-label", labels.image);
    cellsBox.style.gridTemplateColumns = "repeat(" + grid + ", 1fr)";
    cellsBox.style.gridTemplateRows = "repeat(" + grid + ", 1fr)";
    var cells = [];
    for (var row = 0; row < grid; row++) {
      var rowBox = document.createElement("div");
      rowBox.setAttribute("role", "row");
      rowBox.className = "ae-row";
      for (var column = 0; column < grid; column++) {
        var cell = document.createElement("div");
        cell.className = "ae-cell";
        cell.setAttribute("role", "gridcell");
        cell.setAttribute("aria-label", format(labels.patch, { row: row, column: column }));
        cell.tabIndex = row === 0 && column === 0 ? 0 : -1;
        cell.dataset.index = String(row * grid + column);
        rowBox.appendChild(cell);
        cells.push(cell);
      }
      cellsBox.appendChild(rowBox);
    }
    stage.appendChild(image);
    stage.appendChild(cellsBox);

    // Buttons: the CLS token first, then the caption's words.
    var clsButton = makeButton(labels.cls, "cls");
    wordBox.appendChild(clsButton);
    data.words.forEach(function (word, index) {
      wordBox.appendChild(makeButton(word, String(index)));
    });

    var selection = { kind: "cls", index: 0 };

    function makeButton(text, value) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "ae-word";
      button.textContent = text;
      button.dataset.value = value;
      button.setAttribute("aria-pressed", "false");
      return button;
    }

    function format(template, values) {
      return template.replace(/\{(\w+)\}/g, function (_, key) {
        return String(values[key]);
      });
    }

    // The weights of the current selection over the patches: gh * gw numbers.
    function currentWeights() {
      var weights = selection.kind === "word" ? data.cross : data.vision;
      var layerIndex = Math.min(Number(layerSelect.value), weights.length - 1);
      var heads = weights[layerIndex];
      var chosen = headSelect.value === "mean" ? heads : [heads[Math.min(Number(headSelect.value), heads.length - 1)]];
      var result = new Array(grid * grid).fill(0);
      chosen.forEach(function (headWeights) {
        var rowWeights;
        if (selection.kind === "word") {
          rowWeights = headWeights[selection.index];
        } else {
          var query = selection.kind === "cls" ? 0 : data.prefix + selection.index;
          rowWeights = headWeights[query].slice(data.prefix);
        }
        for (var i = 0; i < result.length; i++) result[i] += rowWeights[i] / data.scale / chosen.length;
      });
      return result;
    }

    function render() {
      // Scale each map to [0, 1] between its minimum and maximum, as vlmbook.viz.overlay does.
      var weights = currentWeights();
      var low = Math.min.apply(null, weights);
      var range = Math.max.apply(null, weights) - low || 1;
      cells.forEach(function (cell, i) {
        // Shade the patches that get little weight, so the attended ones stay bright whatever their color.
        cell.style.backgroundColor = "rgba(20, 20, 40, " + (0.75 * (1 - (weights[i] - low) / range)).toFixed(3) + ")";
        cell.classList.toggle("ae-query", selection.kind === "patch" && selection.index === i);
      });
      wordBox.querySelectorAll(".ae-word").forEach(function (button) {
        var pressed = (selection.kind === "cls" && button.dataset.value === "cls") ||
          (selection.kind === "word" && button.dataset.value === String(selection.index));
        button.setAttribute("aria-pressed", pressed ? "true" : "false");
      });
      var what;
      if (selection.kind === "word") {
        what = format(labels.word, { word: data.words[selection.index] }) + " · " + labels.cross_source;
      } else if (selection.kind === "cls") {
        what = labels.cls_status + " · " + labels.vision_source;
      } else {
        what = format(labels.patch, { row: Math.floor(selection.index / grid), column: selection.index % grid }) +
          " · " + labels.vision_source;
      }
      var headText = headSelect.value === "mean" ? labels.mean : labels.head + " " + headSelect.value;
      status.textContent = what + " · " + labels.layer + " " + layerSelect.value + " · " + headText;
    }

    function select(kind, index) {
      selection = { kind: kind, index: index };
      render();
    }

    function selectCell(cell) {
      cells.forEach(function (other) {
        other.tabIndex = other === cell ? 0 : -1;
      });
      select("patch", Number(cell.dataset.index));
    }

    cellsBox.addEventListener("mouseover", function (event) {
      if (event.target.classList.contains("ae-cell")) selectCell(event.target);
    });
    cellsBox.addEventListener("focusin", function (event) {
      if (event.target.classList.contains("ae-cell")) selectCell(event.target);
    });
    cellsBox.addEventListener("keydown", function (event) {
      var moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
      var move = moves[event.key];
      if (!move || !event.target.classList.contains("ae-cell")) return;
      event.preventDefault();
      var index = Number(event.target.dataset.index);
      var row = Math.min(grid - 1, Math.max(0, Math.floor(index / grid) + move[0]));
      var column = Math.min(grid - 1, Math.max(0, (index % grid) + move[1]));
      cells[row * grid + column].focus();
    });

    function chooseWord(event) {
      var button = event.target.closest(".ae-word");
      if (!button) return;
      if (button.dataset.value === "cls") select("cls", 0);
      else select("word", Number(button.dataset.value));
    }
    wordBox.addEventListener("mouseover", chooseWord);
    wordBox.addEventListener("focusin", chooseWord);
    wordBox.addEventListener("click", chooseWord);
    layerSelect.addEventListener("change", render);
    headSelect.addEventListener("change", render);

    render();
  }

  function setupAll() {
    document.querySelectorAll(".attention-explorer").forEach(setup);
  }

  // Material's instant navigation replaces the page without a new DOMContentLoaded.
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(setupAll);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setupAll);
  } else {
    setupAll();
  }
})();
