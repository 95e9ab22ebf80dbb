// Sends a chat message and shows the server's event stream (the agents' steps, then the answer) as text.
(function () {
  const form = document.getElementById("chat-form");
  const log = document.getElementById("chat-log");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const input = document.getElementById("chat-message");
    const message = input.value;
    log.textContent += "you> " + message + "\n";
    input.value = "";
    const response = await fetch("/chat/stream", {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf},
      body: JSON.stringify({message: message}),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({detail: response.statusText}));
      log.textContent += "not done: " + body.detail + "\n";
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data) log.textContent += JSON.parse(data).text + "\n";
      }
    }
  });
})();
