// The case list's filters (issue 21): the township menu follows the chosen county, and villages and
// schools are offered as the user types, each from a small JSON answer of /places/<kind> (the user's
// region only). No library, no CDN.
(function () {
  "use strict";
  var form = document.querySelector("form.filters");
  if (!form) { return; }
  function value(name) {
    var el = form.elements.namedItem(name);
    return el && el.value ? el.value : "";
  }
  function places(kind, params) {
    var query = new URLSearchParams(params);
    return fetch("/places/" + kind + "?" + query.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {items: []}; })
      .catch(function () { return {items: []}; });
  }
  var county = form.querySelector("select[name=county]");
  var township = form.querySelector("select[name=township]");
  if (county && township) {
    county.addEventListener("change", function () {
      township.length = 1;
      township.options[0].textContent = county.value ? "全部" : "全部（先选县市区）";
      if (!county.value) { return; }
      places("township", {parent: county.value}).then(function (data) {
        data.items.forEach(function (item) { township.add(new Option(item.label, item.code)); });
      });
    });
  }
  form.querySelectorAll("input[data-typeahead]").forEach(function (input) {
    var kind = input.getAttribute("data-typeahead");
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var parent = kind === "village" ? (value("township") || value("county")) : value("county");
        var params = {q: input.value.trim()};
        if (parent) { params.parent = parent; }
        places(kind, params).then(function (data) {
          list.textContent = "";
          data.items.forEach(function (item) {
            var opt = document.createElement("option");
            opt.value = item.code;
            opt.label = item.label;
            opt.textContent = item.label;
            list.appendChild(opt);
          });
        });
      }, 200);
    });
  });
})();
