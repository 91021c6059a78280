// The playground: sends one turn to /ui/playground/chat (the gateway's own
// /v1/chat/completions, as the signed-in user), shows the answer as it streams, then the
// provider, time to first token, total time, tokens and what the call was charged.
(function () {
  "use strict";
  var form = document.getElementById("playground");
  if (!form) return;
  var transcript = document.getElementById("transcript");
  var state = document.getElementById("state");
  var sessionId = null;

  function line(role, text) {
    var item = document.createElement("li");
    item.className = "msg msg-" + role;
    var label = document.createElement("span");
    label.className = "role";
    label.textContent = role;
    var content = document.createElement("div");
    content.className = "content";
    content.textContent = text;
    item.appendChild(label);
    item.appendChild(content);
    transcript.appendChild(item);
    return content;
  }

  function show(id, text) { document.getElementById(id).textContent = text; }

  document.getElementById("new-chat").addEventListener("click", function () {
    sessionId = null;
    transcript.textContent = "";
    document.getElementById("stats").hidden = true;
    state.textContent = "New chat.";
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var content = form.elements.content.value.trim();
    if (!content) return;
    var send = document.getElementById("send");
    send.disabled = true;
    line("user", content);
    var answer = line("assistant", "");
    form.elements.content.value = "";
    state.textContent = "Waiting for the first token…";
    var started = performance.now();
    var firstToken = null;
    var usage = null;
    try {
      var response = await fetch("/ui/playground/chat", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": form.dataset.csrf },
        body: JSON.stringify({ model: form.elements.model.value, content: content, session_id: sessionId }),
        credentials: "same-origin",
      });
      var requestId = response.headers.get("x-gatewayz-request");
      if (response.headers.get("x-gatewayz-session")) {
        sessionId = parseInt(response.headers.get("x-gatewayz-session"), 10);
      }
      if (!response.ok) {
        var failure = await response.json().catch(function () { return {}; });
        answer.textContent = (failure.error && failure.error.message) || ("Error " + response.status);
        answer.parentElement.classList.add("error");
        state.textContent = "";
        return;
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffered = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffered += decoder.decode(chunk.value, { stream: true });
        var events = buffered.split("\n\n");
        buffered = events.pop();
        events.forEach(function (block) {
          block.split("\n").forEach(function (row) {
            if (row.indexOf("data:") !== 0) return;
            var data = row.slice(5).trim();
            if (data === "[DONE]") return;
            var parsed;
            try { parsed = JSON.parse(data); } catch (e) { return; }
            if (parsed.error) { answer.textContent += "\n[" + parsed.error.message + "]"; return; }
            if (parsed.usage) usage = parsed.usage;
            (parsed.choices || []).forEach(function (choice) {
              var piece = choice.delta && choice.delta.content;
              if (piece) {
                if (firstToken === null) firstToken = performance.now();
                answer.textContent += piece;
              }
            });
          });
        });
      }
      var total = performance.now() - started;
      document.getElementById("stats").hidden = false;
      show("stat-provider", response.headers.get("x-gatewayz-provider") || "—");
      show("stat-ttft", firstToken === null ? "—" : Math.round(firstToken - started) + " ms");
      show("stat-latency", Math.round(total) + " ms");
      show("stat-tokens", usage ? usage.prompt_tokens + " / " + usage.completion_tokens : "—");
      show("stat-cost", "…");
      state.textContent = "Done.";
      if (requestId) {
        var charged = await fetch("/ui/playground/charge?request_id=" + encodeURIComponent(requestId),
          { credentials: "same-origin" });
        var figures = await charged.json();
        show("stat-cost", figures.charged + " credits");
      }
    } catch (error) {
      answer.textContent += "\n[" + error + "]";
      state.textContent = "";
    } finally {
      send.disabled = false;
    }
  });
})();
