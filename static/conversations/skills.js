// A skill's folder upload (templates/conversations/skills/_upload_fields.html): the server sees only
// each file's bare name, so send each file's path in the folder beside it, in the same order.
document.addEventListener("change", (event) => {
  const input = event.target.closest("input[data-skill-folder]");
  if (!input) return;
  const form = input.form;
  form.querySelectorAll("input[data-skill-path]").forEach((old) => old.remove());
  for (const file of input.files) {
    const path = document.createElement("input");
    path.type = "hidden";
    path.name = "paths";
    path.value = file.webkitRelativePath || file.name;
    path.dataset.skillPath = "";
    form.append(path);
  }
});
