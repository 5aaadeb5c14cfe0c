// The share link's page: once the form is sent, an old error no longer applies.
const form = document.querySelector("form");
const error = document.querySelector(".error");
if (form && error) form.addEventListener("submit", () => error.remove());
