// The demo page: be one persona, see their chats, act through /demo/api, follow /demo/api/events.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { story: null, persona: null, chats: [], chatId: null, unread: {}, replyTo: null };

const STEPS = [
  { who: "resident", title: "登记为居民", hint: "以陈阿姨的身份发送 /start，选择语言，然后按提示登记住址。",
    send: "/start" },
  { who: "resident", title: "匿名举报可疑的一户，附照片",
    hint: "发送 /report，选“可疑人员或行为”，写几句话，用 📎 发一张照片，按“完成”，选楼栋或用 📍 分享位置，选“匿名”，再按“发送”。",
    send: "/report" },
  { who: "leader", title: "队长认领举报", hint: "切换到王队长，打开“龙江路巡逻队”群，在举报卡片上按“认领”。陈阿姨会收到进展。",
    chat: "patrol" },
  { who: "cadre", title: "干部发紧急通知，看回执", hint: "切换到李干部，发送 /alert，按步骤写通知并发送；再切换到队员或居民按“收到”，回执会实时更新。",
    send: "/alert" },
  { who: "member", title: "队员到岗签到", hint: "切换到张队员，按下面的按钮（等于扫描东门岗的二维码），再按提示分享位置。",
    post: true },
  { who: "neighbour1", title: "转发可疑消息，请机器人看看",
    hint: "切换到刘奶奶，打开“龙江路社区平安群”，把鼠标移到孙老师那条“医保卡被冻结”的消息上，点 ↪ 转发给机器人。",
    chat: "community" },
];

async function api(path, body) {
  const options = body === undefined ? {} : body instanceof FormData ? { method: "POST", body }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(`/demo/api/${path}`, options);
  const payload = await response.json();
  if (!payload.ok) { toast(`出错了：${payload.description}`); throw new Error(payload.description); }
  return payload.result;
}

function toast(text, alert = false) {
  const box = $("toast");
  box.textContent = text;
  box.className = alert ? "alert" : "";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, alert ? 6000 : 2500);
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// -- people ----------------------------------------------------------------------------
function renderPeople() {
  for (const [listId, main] of [["personas", true], ["neighbours", false]]) {
    const list = $(listId);
    list.replaceChildren();
    for (const p of state.story.personas.filter((x) => x.main === main)) {
      const item = el("li", { className: "person" + (p === state.persona ? " active" : "") },
        el("span", {}, p.name, el("br"), el("span", { className: "role", textContent: p.role })));
      item.dataset.persona = p.key;
      item.onclick = () => choosePersona(p.key);
      list.append(item);
    }
  }
}

async function choosePersona(key, chat) {
  state.persona = state.story.personas.find((p) => p.key === key);
  state.chatId = null;
  state.unread = {};
  renderPeople();
  await refresh();
  const wanted = chat ? state.story.groups[chat] : state.persona.user_id;
  openChat(state.chats.some((c) => c.id === wanted) ? wanted : state.chats[0]?.id);
}

async function refresh() {
  if (!state.persona) return;
  state.chats = await api(`chats?user_id=${state.persona.user_id}`);
  renderChats();
  renderChat();
}

function renderChats() {
  const list = $("chats");
  list.replaceChildren();
  for (const chat of state.chats) {
    const icon = chat.type === "private" ? "🤖 " : "👥 ";
    const item = el("li", { className: "chat" + (chat.id === state.chatId ? " active" : "") },
      el("span", { textContent: icon + chat.title }),
      state.unread[chat.id] ? el("span", { className: "badge", textContent: state.unread[chat.id] }) : null);
    item.dataset.chat = chat.id;
    item.onclick = () => openChat(chat.id);
    list.append(item);
  }
}

function openChat(id) {
  state.chatId = id;
  state.unread[id] = 0;
  state.replyTo = null;
  $("reply-bar").hidden = true;
  renderChats();
  renderChat(true);
}

// -- one chat ------------------------------------------------------------------------------
function currentChat() { return state.chats.find((c) => c.id === state.chatId); }

function renderChat(toBottom = false) {
  const chat = currentChat();
  const box = $("messages");
  const atBottom = toBottom || box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  box.replaceChildren();
  $("pinned").hidden = true;
  $("keyboard").hidden = true;
  if (!chat) return;
  $("chat-title").textContent = chat.title;
  $("chat-sub").textContent = chat.type === "private" ? "机器人 · 私聊" : `群组 · ${chat.members} 位成员`;
  const byId = new Map(chat.messages.map((m) => [m.message_id, m]));
  let album = null;
  for (const m of chat.messages) {
    if (m.media_group_id && album && album.dataset.group === m.media_group_id) {
      album.querySelector(".album").append(photo(m));
      continue;
    }
    const node = messageNode(m, byId);
    album = m.media_group_id ? node : null;
    if (album) album.dataset.group = m.media_group_id;
    box.append(node);
  }
  if (chat.pinned && byId.has(chat.pinned)) {
    const pin = byId.get(chat.pinned);
    const bar = $("pinned");
    bar.textContent = "📌 置顶消息：" + plain(pin);
    bar.hidden = false;
    bar.onclick = () => {
      const target = box.querySelector(`[data-id="${chat.pinned}"]`);
      if (target) { target.scrollIntoView({ block: "center" }); target.classList.add("flash");
        setTimeout(() => target.classList.remove("flash"), 1200); }
    };
  }
  renderKeyboard(chat);
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function plain(m) {
  const div = document.createElement("div");
  div.innerHTML = m.html || m.caption_html || "";
  return div.textContent || (m.photo ? "🖼 照片" : m.location ? "📍 位置" : m.voice ? "🎤 语音" : "…");
}

function photo(m) {
  const img = el("img", { src: `/demo/api/files/${encodeURIComponent(m.photo)}`, alt: "照片", loading: "lazy" });
  img.onclick = () => window.open(img.src, "_blank");
  return img;
}

function messageNode(m, byId) {
  if (m.service) return el("div", { className: "service", textContent: m.service });
  const mine = !m.from_bot && m.from_id === state.persona.user_id;
  const node = el("div", { className: "msg" + (mine ? " mine" : "") });
  node.dataset.id = m.message_id;
  const chat = currentChat();
  if (chat.type !== "private" && !mine) node.append(el("div", { className: "who", textContent: m.from_name }));
  if (m.forwarded_from !== undefined) node.append(el("div", { className: "forwarded", textContent: `转发自 ${m.forwarded_from}` }));
  if (m.reply_to && byId.has(m.reply_to)) node.append(el("div", { className: "quote", textContent: plain(byId.get(m.reply_to)).slice(0, 80) }));
  if (m.photo) node.append(m.media_group_id ? el("div", { className: "album" }, photo(m)) : photo(m));
  if (m.document) {
    node.append(el("a", { className: "card", href: `/demo/api/files/${encodeURIComponent(m.document.file_id)}`, target: "_blank" },
      "📄 ", m.document.name));
  }
  if (m.voice) node.append(el("div", { className: "card", textContent: `🎤 语音 0:${String(m.voice.duration).padStart(2, "0")}` }));
  if (m.location) {
    node.append(el("div", { className: "mapcard" }, el("span", { textContent: "📍" }),
      el("small", { textContent: `${m.location.latitude.toFixed(4)}, ${m.location.longitude.toFixed(4)}` })));
  }
  if (m.contact) node.append(el("div", { className: "card", textContent: `👤 ${m.contact.name}  ${m.contact.phone}` }));
  const body = m.html ?? m.caption_html;
  if (body) { const text = el("div"); text.innerHTML = body; node.append(text); }  // escaped by the server
  if (m.buttons) node.append(inlineKeyboard(m));
  node.append(el("div", { className: "meta", textContent: (m.pinned ? "📌 " : "") + (m.edited ? "已编辑 " : "") + clock(m.date) }));
  const actions = el("div", { className: "actions" });
  actions.append(el("button", { type: "button", title: "回复 / reply", textContent: "↩", onclick: () => replyTo(m) }));
  actions.append(el("button", { type: "button", title: "转发给机器人 / forward to the bot", textContent: "↪", onclick: () => forward(m) }));
  node.append(actions);
  return node;
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
}

function inlineKeyboard(m) {
  const box = el("div", { className: "inline" });
  for (const row of m.buttons) {
    const line = el("div", { className: "row" });
    for (const b of row) {
      const button = el("button", { type: "button", textContent: b.text + (b.url ? " ↗" : "") });
      button.onclick = () => (b.url ? openUrl(b.url) : press(m, b));
      line.append(button);
    }
    box.append(line);
  }
  return box;
}

function openUrl(url) {
  const link = url.match(/^https:\/\/t\.me\/[A-Za-z0-9_]+\?start=([A-Za-z0-9_-]+)$/);
  if (link) { send(`/start ${link[1]}`, state.persona.user_id); return; }  // a deep link into the bot
  toast(`链接：${url}`);
}

async function press(m, button) {
  await api("press", { user_id: state.persona.user_id, chat_id: m.chat_id,
    message_id: m.message_id, data: button.data });  // the bot's notice comes by the stream
}

function renderKeyboard(chat) {
  const box = $("keyboard");
  box.replaceChildren();
  if (!chat.keyboard) return;
  for (const row of chat.keyboard) {
    const line = el("div", { className: "row" });
    for (const b of row) {
      line.append(el("button", { type: "button", textContent: b.text, onclick: () => {
        if (b.contact) api("contact", { user_id: state.persona.user_id });
        else if (b.location) togglePlaces(true);
        else send(b.text);
      } }));
    }
    box.append(line);
  }
  box.hidden = false;
}

// -- acting --------------------------------------------------------------------------------
async function send(text, chatId = state.chatId) {
  const body = { user_id: state.persona.user_id, chat_id: chatId, text };
  if (state.replyTo && chatId === state.chatId) body.reply_to = state.replyTo;
  state.replyTo = null;
  $("reply-bar").hidden = true;
  if (chatId !== state.chatId) openChat(chatId);
  await api("send", body);
}

function replyTo(m) {
  state.replyTo = m.message_id;
  $("reply-text").textContent = "回复：" + plain(m).slice(0, 60);
  $("reply-bar").hidden = false;
  $("text").focus();
}

async function forward(m) {
  openChat(state.persona.user_id);
  await api("forward", { user_id: state.persona.user_id, from_chat_id: m.chat_id, message_id: m.message_id });
}

async function upload(input, kind) {
  const files = [...input.files].slice(0, 10);
  input.value = "";
  $("attach-menu").hidden = true;
  if (!files.length) return;
  const form = new FormData();
  form.append("user_id", state.persona.user_id);
  form.append("chat_id", state.chatId);
  form.append("kind", kind);
  form.append("caption", $("text").value.trim());
  for (const file of files) form.append("file", file);
  $("text").value = "";
  await api("upload", form);
}

function sharePlace(latitude, longitude) {
  $("place-menu").hidden = true;
  api("location", { user_id: state.persona.user_id, chat_id: state.chatId, latitude, longitude });
}

function togglePlaces(show) { $("place-menu").hidden = !show; $("attach-menu").hidden = true; }

// A schematic map of the neighbourhood (drawn here: nothing is fetched from the internet).
const MAP = { north: 31.2330, south: 31.2250, west: 121.4700, east: 121.4830 };
function drawMap() {
  const map = $("map");
  const parts = [["road", 0, 45, 100, 6], ["road", 48, 0, 5, 100],
    ["bldg", 8, 10, 16, 14, "3栋"], ["bldg", 28, 10, 16, 14, "7栋"], ["bldg", 8, 60, 16, 14, "5栋"],
    ["bldg", 60, 12, 18, 16, "东门岗"], ["bldg", 62, 62, 24, 20, "菜市场"]];
  for (const [kind, x, y, w, h, label] of parts) {
    map.append(el("div", { className: kind, textContent: label || "",
      style: `left:${x}%;top:${y}%;width:${w}%;height:${h}%` }));
  }
  map.onclick = (event) => {
    const box = map.getBoundingClientRect();
    const fx = (event.clientX - box.left) / box.width, fy = (event.clientY - box.top) / box.height;
    sharePlace(+(MAP.north - fy * (MAP.north - MAP.south)).toFixed(6), +(MAP.west + fx * (MAP.east - MAP.west)).toFixed(6));
  };
  for (const place of state.story.places) {
    $("presets").append(el("button", { type: "button", textContent: `📍 ${place.name}`,
      onclick: () => sharePlace(place.latitude, place.longitude) }));
  }
}

function renderSteps() {
  const list = $("steps");
  list.replaceChildren();
  for (const step of STEPS) {
    const persona = state.story.personas.find((p) => p.key === step.who);
    const item = el("li", {}, el("strong", { textContent: `${persona.name}：${step.title}` }),
      el("div", { className: "hint", textContent: step.hint }));
    item.append(el("button", { type: "button", textContent: `切换到${persona.name}`,
      onclick: () => choosePersona(step.who, step.chat) }));
    if (step.send) {
      item.append(" ", el("button", { type: "button", textContent: `发送 ${step.send}`, onclick: async () => {
        if (state.persona !== persona) await choosePersona(step.who);
        send(step.send, persona.user_id);
      } }));
    }
    if (step.post) {
      item.append(" ", el("button", { type: "button", textContent: "📷 扫描东门岗二维码", onclick: async () => {
        if (state.persona !== persona) await choosePersona(step.who);
        send(`/start ${state.story.post_payload}`, persona.user_id);
      } }));
    }
    list.append(item);
  }
}

// -- live updates --------------------------------------------------------------------------
let pending = null;
function listen() {
  const events = new EventSource("/demo/api/events");
  events.onmessage = async (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "reset") { await start(); toast("故事已重置"); return; }
    if (!state.persona) return;
    if (data.type === "answer") {
      if (data.user_id === state.persona.user_id) toast(data.text, data.alert);
      return;
    }
    const mine = data.chat_id === state.persona.user_id || (data.chat.members || []).includes(state.persona.user_id);
    if (!mine) return;
    if (data.chat_id !== state.chatId && data.message.from_id !== state.persona.user_id) {
      state.unread[data.chat_id] = (state.unread[data.chat_id] || 0) + 1;
    }
    clearTimeout(pending);
    pending = setTimeout(refresh, 80);
  };
}

async function start() {
  state.story = await api("story");
  const key = state.persona ? state.persona.key : "resident";
  renderPeople();
  renderSteps();
  await choosePersona(key);
  if (!state.story.bot_polling) toast("机器人正在启动，请稍等几秒… / the bot is starting");
}

$("composer").onsubmit = (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text || !state.chatId) return;
  $("text").value = "";
  send(text);
};
$("attach").onclick = () => { $("attach-menu").hidden = !$("attach-menu").hidden; $("place-menu").hidden = true; };
$("place").onclick = () => togglePlaces($("place-menu").hidden);
$("voice").onclick = () => api("voice", { user_id: state.persona.user_id, chat_id: state.chatId, duration: 6 });
$("photo-file").onchange = (event) => upload(event.target, "photo");
$("doc-file").onchange = (event) => upload(event.target, "document");
$("reply-cancel").onclick = () => { state.replyTo = null; $("reply-bar").hidden = true; };
$("reset").onclick = async () => {
  if (confirm("重新开始故事？所有聊天都会清空。")) await api("reset", {});
};

(async () => { await start(); drawMap(); listen(); })();
