// The event browser's only script. Every page works without it; it adds a copy
// button to the spec block, submits filter selects when they change, focuses
// the search box on "/", and shows times in the reader's zone on hover.
// It is served from the handler itself: the Content-Security-Policy forbids
// inline scripts, and it writes no HTML (textContent only).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
	for (const button of document.querySelectorAll("button.copy[data-copy]")) {
		const source = document.getElementById(button.dataset.copy);
		if (!source) continue;
		button.hidden = false;
		button.addEventListener("click", async () => {
			const label = button.textContent;
			try {
				await navigator.clipboard.writeText(source.textContent);
				button.textContent = "Copied";
			} catch (err) {
				const range = document.createRange();
				range.selectNodeContents(source);
				const selection = window.getSelection();
				selection.removeAllRanges();
				selection.addRange(range);
				button.textContent = "Selected: press Ctrl+C";
			}
			button.dataset.copied = "true";
			setTimeout(() => { button.textContent = label; }, 2500);
		});
	}

	for (const select of document.querySelectorAll("select[data-autosubmit]")) {
		select.addEventListener("change", () => select.form && select.form.requestSubmit());
	}

	for (const time of document.querySelectorAll("time[datetime]")) {
		const at = new Date(time.getAttribute("datetime"));
		if (!isNaN(at)) time.title = at.toLocaleString() + " (your time)";
	}

	document.addEventListener("keydown", (event) => {
		const search = document.querySelector("form.search input[name=q]");
		const typing = event.target.closest && event.target.closest("input, textarea, select");
		if (event.key === "/" && search && !typing) {
			event.preventDefault();
			search.focus();
		}
	});
});
