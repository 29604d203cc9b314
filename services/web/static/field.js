/* The inspector's work on the phone (progressive enhancement of field/inspection.html).
   Every check, finding and photo is kept in IndexedDB (Dexie) as soon as it is made. Submitting
   freezes a filing with an Idempotency-Key of its own; it waits on the phone until it is sent.
   Sending uploads each photo under its own key and keeps the evidence id it gets, then files the
   results under the filing's key: a resend after a lost answer is answered with the first filing
   and files nothing twice. */
(function () {
  'use strict';
  const db = new Dexie('supervision-field');
  db.version(1).stores({
    checks: '[inspection+item], inspection',
    photos: '++id, inspection, [inspection+item]',
    problems: 'inspection',
    filings: 'inspection, state'
  });
  const csrf = document.querySelector('meta[name=csrf-token]').content;
  const waiting = document.getElementById('waiting');
  let sending = false;
  let signedOut = false; // the session ended: what waits is sent after signing in again

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js', {scope: '/'});
  }

  function newKey() {
    return crypto.randomUUID ? crypto.randomUUID()
      : Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  async function showWaiting() {
    if (!waiting) return;
    const filings = await db.filings.where('state').anyOf('waiting', 'refused').toArray();
    if (!filings.length) { waiting.hidden = true; waiting.textContent = ''; return; }
    let photos = 0;
    for (const f of filings) photos += f.checks.reduce((n, c) => n + c.photos.length, 0);
    const refused = filings.filter((f) => f.state === 'refused');
    waiting.hidden = false;
    waiting.className = refused.length ? 'waiting refused' : 'waiting';
    waiting.textContent = refused.length
      ? '有 ' + refused.length + ' 份检查结果被退回：' + refused.map((f) => f.error).join('；')
      : '还有 ' + filings.length + ' 份检查结果（含 ' + photos + ' 张照片）保存在本机，等待发送'
        + (signedOut ? '：登录已过期，请重新登录，登录后自动发送。'
          : navigator.onLine ? '……' : '：当前没有网络，恢复后自动发送。');
  }

  async function post(url, body, key, json) {
    const headers = {'X-CSRFToken': csrf, 'Idempotency-Key': key, 'Accept': 'application/json'};
    if (json) headers['Content-Type'] = 'application/json';
    const answer = await fetch(url, {method: 'POST', headers: headers, body: body,
                                     credentials: 'same-origin', redirect: 'manual'});
    let data = {};
    try { data = await answer.json(); } catch (e) { /* not JSON: signed out, or a proxy */ }
    return {status: answer.status, data: data};
  }

  async function send(filing) {
    const checks = [];
    for (const c of filing.checks) {
      const evidence = [];
      for (const id of c.photos) {
        const photo = await db.photos.get(id);
        if (!photo.evidence) {
          const form = new FormData();
          form.append('file', photo.blob, photo.name);
          const answer = await post(filing.evidenceUrl, form, photo.key, false);
          if (answer.status !== 201) return answer;
          await db.photos.update(id, {evidence: answer.data.id});
          photo.evidence = answer.data.id;
        }
        evidence.push(photo.evidence);
      }
      const check = {item_id: c.item, outcome: c.outcome, observed_at: c.observedAt,
                     evidence: evidence};
      if (c.findings) check.findings = c.findings;
      checks.push(check);
    }
    return post(filing.resultsUrl, JSON.stringify({checks: checks, new_problems: filing.problems}),
                filing.key, true);
  }

  async function sendWaiting() {
    if (sending || !navigator.onLine) return showWaiting();
    sending = true;
    try {
      for (const filing of await db.filings.where('state').equals('waiting').toArray()) {
        let answer;
        try { answer = await send(filing); } catch (e) { continue; } // offline: try later
        // A redirect to the sign-in page (opaque here) or a refused token: keep it for later.
        signedOut = answer.status === 0 || answer.status === 401;
        if (answer.status === 200) {
          await db.transaction('rw', db.filings, db.photos, db.checks, db.problems, async () => {
            await db.filings.update(filing.inspection, {state: 'sent', sentAt: new Date().toISOString()});
            await db.photos.where('inspection').equals(filing.inspection).delete();
            await db.checks.where('inspection').equals(filing.inspection).delete();
            await db.problems.delete(filing.inspection);
          });
          const form = document.getElementById('filing');
          if (form && form.dataset.inspection === filing.inspection) location.reload();
        } else if (answer.status === 409 || answer.status === 422) {
          const errors = Object.entries(answer.data.errors || {})
            .map(([k, v]) => k + '：' + [].concat(v).join('，'));
          await db.filings.update(filing.inspection, {
            state: 'refused', error: [answer.data.detail || '被拒绝'].concat(errors).join(' ')});
        }
      }
    } finally {
      sending = false;
      await showWaiting();
    }
  }

  function thumbnail(list, blob) {
    const li = document.createElement('li');
    const img = document.createElement('img');
    img.src = URL.createObjectURL(blob);
    img.alt = '已拍照片';
    li.appendChild(img);
    list.appendChild(li);
  }

  async function enhance(form) {
    const inspection = form.dataset.inspection;
    const sections = Array.from(form.querySelectorAll('section.check'));
    const stepper = form.querySelector('.stepper');
    const position = stepper.querySelector('.position');
    let current = 0;
    function show(index) {
      current = Math.max(0, Math.min(sections.length - 1, index));
      sections.forEach((s, i) => { s.hidden = i !== current; });
      position.textContent = (current + 1) + ' / ' + sections.length;
      stepper.querySelector('[data-step="-1"]').disabled = current === 0;
      stepper.querySelector('[data-step="1"]').disabled = current === sections.length - 1;
    }
    stepper.hidden = false;
    stepper.addEventListener('click', (event) => {
      const step = event.target.dataset.step;
      if (step) { show(current + Number(step)); sections[current].querySelector('h2').focus(); }
    });
    sections.forEach((s) => s.querySelector('h2').setAttribute('tabindex', '-1'));

    for (const section of sections) {
      const item = section.dataset.item;
      if (!item) continue;
      const saved = await db.checks.get([inspection, item]);
      const findings = section.querySelector('textarea');
      const list = section.querySelector('.thumbs');
      if (saved) {
        const radio = section.querySelector('input[value="' + saved.outcome + '"]');
        if (radio) radio.checked = true;
        findings.value = saved.findings || '';
      }
      for (const photo of await db.photos.where({inspection: inspection, item: item}).toArray()) {
        thumbnail(list, photo.blob);
      }
      const keep = async () => {
        const chosen = section.querySelector('input[type=radio]:checked');
        const before = await db.checks.get([inspection, item]);
        await db.checks.put({inspection: inspection, item: item,
          outcome: chosen ? chosen.value : null, findings: findings.value.trim(),
          observedAt: before && before.observedAt && before.outcome === (chosen && chosen.value)
            ? before.observedAt : new Date().toISOString()});
      };
      section.querySelectorAll('input[type=radio]').forEach((r) => r.addEventListener('change', keep));
      findings.addEventListener('input', keep);
      const camera = section.querySelector('input[type=file]');
      camera.addEventListener('change', async () => {
        for (const file of camera.files) {
          await db.photos.add({inspection: inspection, item: item, blob: file,
                               name: file.name || 'photo.jpg', key: newKey(), evidence: null});
          thumbnail(list, file);
        }
        camera.value = '';
      });
    }
    const problem = await db.problems.get(inspection);
    const fields = ['township', 'village', 'problem', 'measure'];
    if (problem) fields.forEach((f) => { form.elements['new-' + f].value = problem[f] || ''; });
    fields.forEach((f) => form.elements['new-' + f].addEventListener('input', () => {
      const row = {inspection: inspection};
      fields.forEach((g) => { row[g] = form.elements['new-' + g].value.trim(); });
      db.problems.put(row);
    }));

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const existing = await db.filings.get(inspection);
      if (existing && existing.state === 'waiting') return sendWaiting();
      const checks = [];
      for (const c of await db.checks.where('inspection').equals(inspection).toArray()) {
        if (!c.outcome) continue;
        const photos = await db.photos.where({inspection: inspection, item: c.item}).primaryKeys();
        checks.push({item: c.item, outcome: c.outcome, findings: c.findings,
                     observedAt: c.observedAt, photos: photos.sort((a, b) => a - b)});
      }
      const p = await db.problems.get(inspection);
      const problems = p && p.problem ? [{township: p.township, village: p.village,
                                          problem: p.problem, measure: p.measure}] : [];
      await db.filings.put({inspection: inspection, key: newKey(), state: 'waiting',
        checks: checks, problems: problems, createdAt: new Date().toISOString(),
        resultsUrl: form.action, evidenceUrl: form.dataset.evidenceUrl});
      await sendWaiting();
    });
    const filed = await db.filings.get(inspection);
    show(filed && filed.state === 'waiting' ? sections.length - 1 : 0);
  }

  const form = document.getElementById('filing');
  (form ? enhance(form) : Promise.resolve()).then(sendWaiting);
  window.addEventListener('online', sendWaiting);
  window.addEventListener('offline', showWaiting);
  setInterval(sendWaiting, 10000);
})();
