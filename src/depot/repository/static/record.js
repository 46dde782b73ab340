// The record page's deep-zoom viewer (OpenSeadragon), locality map (Leaflet) and citation menu.
// Everything here is optional: without JavaScript the page still shows the data, a preview and a map link.
"use strict";

(function () {
  function viewer() {
    var el = document.getElementById("viewer");
    if (!el || !window.OpenSeadragon) return;
    var sources = JSON.parse(el.dataset.sources);
    var osd = window.OpenSeadragon({
      element: el,
      prefixUrl: "/static/vendor/openseadragon/images/",
      tileSources: sources,
      sequenceMode: sources.length > 1,
      showReferenceStrip: false,
      crossOriginPolicy: "Anonymous",
      gestureSettingsMouse: { clickToZoom: true, scrollToZoom: true },
    });
    window.depotViewer = osd; // for the browser tests and the console
    var chooser = document.getElementById("image-chooser");
    var key = document.getElementById("viewer-key");
    if (chooser) {
      chooser.addEventListener("change", function () { osd.goToPage(Number(chooser.value)); });
      osd.addHandler("page", function (event) {
        chooser.value = String(event.page);
        key.textContent = chooser.options[event.page].text;
      });
    }
  }

  function map() {
    var el = document.getElementById("map");
    if (!el || !window.L) return;
    var point = [Number(el.dataset.lat), Number(el.dataset.lon)];
    var leaflet = window.L.map(el, { scrollWheelZoom: false }).setView(point, 8);
    window.L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution, maxZoom: 18 }).addTo(leaflet);
    window.L.circleMarker(point, { radius: 8, color: "#c30", weight: 2 }).addTo(leaflet);
    window.depotMap = leaflet;
  }

  function copier(buttonId, sourceId) {
    var button = document.getElementById(buttonId);
    if (!button) return;
    button.addEventListener("click", function () {
      var text = document.getElementById(sourceId).innerText;
      if (navigator.clipboard) navigator.clipboard.writeText(text);
    });
  }

  function citations() {
    var menu = document.getElementById("citation-style");
    var target = document.getElementById("citation");
    if (!menu || !target) return;
    var short = target.innerHTML;
    menu.addEventListener("change", function () {
      if (!menu.value) { target.innerHTML = short; return; }
      target.setAttribute("aria-busy", "true");
      fetch(menu.dataset.url + "?style=" + encodeURIComponent(menu.value))
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { target.innerHTML = html; }) // citeproc's HTML: its text is escaped
        .catch(function () { target.textContent = "The citation could not be loaded."; })
        .finally(function () { target.removeAttribute("aria-busy"); target.dataset.style = menu.value; });
    });
  }

  viewer();
  map();
  citations();
  copier("copy-citation", "citation");
  copier("copy-bibtex", "bibtex-text");
})();
