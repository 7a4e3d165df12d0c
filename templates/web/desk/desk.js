// The desk works without this file: every action is a plain form. With it, an
// article's action or the edition's words are saved without leaving the page:
// the form is posted with fetch, the page that comes back replaces <main>, and
// the reader keeps their place (scroll and focus). Anything unexpected falls
// back to the plain form.
"use strict";

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form[data-quick]") || form.dataset.plain) return;
  event.preventDefault();
  const submitter = event.submitter;
  const data = new FormData(form, submitter);
  const article = form.closest(".article");
  const label = submitter ? submitter.textContent : "";
  const y = window.scrollY;
  form.setAttribute("aria-busy", "true");
  let response;
  try {
    response = await fetch(form.action, {method: "POST", body: data, credentials: "same-origin"});
  } catch (e) {
    response = null;
  }
  const type = response && response.headers.get("Content-Type") || "";
  if (!response || !response.ok || !type.startsWith("text/html")) {
    form.dataset.plain = "1";  // let the browser do it the plain way
    if (submitter) submitter.click(); else form.submit();
    return;
  }
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.querySelector("main");
  document.querySelector("main").replaceWith(fresh);
  document.title = page.title;
  history.replaceState(null, "", response.url + (article ? "#" + article.id : ""));
  window.scrollTo(0, y);
  // Focus where the editor was: the same button if it is still there, else the article's heading.
  const place = article && document.getElementById(article.id);
  const same = place && [...place.querySelectorAll("button")]
    .find((b) => b.textContent === label && b.getClientRects().length && !b.closest("details:not([open])"));
  const target = same || (place && place.querySelector("h3 a, h3")) || fresh.querySelector(".notes") || fresh;
  if (!target.matches("a, button")) target.setAttribute("tabindex", "-1");
  target.focus({preventScroll: true});
});

// The progress of a send: while deliveries are queued or sending, fetch the counts again every few
// seconds and put them in place (the "Refresh the counts" button does the same without JavaScript).
const PROGRESS_EVERY = 5000;
setInterval(async () => {
  const box = document.getElementById("progress");
  if (!box || box.dataset.active !== "1" || document.hidden) return;
  let response;
  try {
    response = await fetch(box.dataset.progress, {credentials: "same-origin"});
  } catch (e) {
    return;  // the next tick tries again
  }
  const type = response.headers.get("Content-Type") || "";
  if (!response.ok || !type.startsWith("text/html")) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("progress");
  if (fresh) box.replaceWith(fresh);
}, PROGRESS_EVERY);
