// berg's viewer: predicted responses on the inflated fsaverage5 cortex, beside the stimulus.
// Everything it needs is in the page: the data (#berg-data), three.js (#three-src, vendored
// from npm), the stimulus (a data: URL or a file beside the page). No network.

const data = JSON.parse(document.getElementById('berg-data').textContent);
const THREE = await import(
  URL.createObjectURL(new Blob([document.getElementById('three-src').textContent],
                               { type: 'text/javascript' })));

function decode(text, Type) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new Type(bytes.buffer);
}

const N = data.n_vertices;                 // 20484
const HALF = N / 2;
const columns = decode(data.columns, Int32Array);   // the selected vertices
const frames = decode(data.frames, Uint8Array);      // (n_rows, n_columns), quantised
const nRows = data.row_times.length;
const nColumns = columns.length;
const assignments = decode(data.assignments, Int16Array);
const rgb = data.rgb ? decode(data.rgb, Uint8Array) : null;   // (n_columns, 3)
const colormaps = Object.fromEntries(
  Object.entries(data.colormaps).map(([name, lut]) => [name, decode(lut, Uint8Array)]));
const columnOf = new Int32Array(N).fill(-1);
columns.forEach((vertex, column) => { columnOf[vertex] = column; });

const state = {
  time: 0, view: 'left lateral', cmap: data.default_colormap, layer: 'response',
  caused: true, threshold: 0, vmax: data.vmax, areas: [],
};

// -- the scene ------------------------------------------------------------------------------
const canvas = document.getElementById('cortex');
const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
renderer.setPixelRatio(window.devicePixelRatio || 1);
const scene = new THREE.Scene();
scene.background = new THREE.Color(0xffffff);
const camera = new THREE.OrthographicCamera(-1, 1, 1, -1, -1000, 1000);
scene.add(new THREE.AmbientLight(0xffffff, 1.1));
const lamp = new THREE.DirectionalLight(0xffffff, 1.6);
camera.add(lamp);
lamp.position.set(0, 0.35, 1);
scene.add(camera);
const controls = new THREE.OrbitControls(camera, canvas);
controls.enableDamping = false;

const meshes = {};
const GAP = 4.0;
for (const [index, hemisphere] of ['left', 'right'].entries()) {
  const mesh = data.mesh[hemisphere];
  const positions = decode(mesh.coords, Float32Array);
  let extreme = hemisphere === 'left' ? -Infinity : Infinity;
  for (let i = 0; i < positions.length; i += 3) {
    extreme = hemisphere === 'left' ? Math.max(extreme, positions[i]) : Math.min(extreme, positions[i]);
  }
  for (let i = 0; i < positions.length; i += 3) positions[i] += (index ? GAP / 2 : -GAP / 2) - extreme;
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute('position', new THREE.BufferAttribute(positions, 3));
  geometry.setIndex(new THREE.BufferAttribute(decode(mesh.faces, Uint32Array), 1));
  geometry.computeVertexNormals();
  geometry.setAttribute('color', new THREE.BufferAttribute(new Float32Array(HALF * 3), 3));
  const object = new THREE.Mesh(geometry, new THREE.MeshLambertMaterial({ vertexColors: true }));
  object.userData = { hemisphere, first: index * HALF, sulci: decode(mesh.sulci, Uint8Array) };
  scene.add(object);
  meshes[hemisphere] = object;
}

// name -> [direction the camera looks from, up, hemispheres shown]
const VIEWS = {
  'left lateral': [[-1, 0, 0], [0, 0, 1], ['left']],
  'right lateral': [[1, 0, 0], [0, 0, 1], ['right']],
  'left medial': [[1, 0, 0], [0, 0, 1], ['left']],
  'right medial': [[-1, 0, 0], [0, 0, 1], ['right']],
  'dorsal': [[0, 0, 1], [0, 1, 0], ['left', 'right']],
  'ventral': [[0, 0, -1], [0, 1, 0], ['left', 'right']],
};

function setView(name) {
  const [from, up, shown] = VIEWS[name];
  state.view = name;
  for (const [hemisphere, mesh] of Object.entries(meshes)) mesh.visible = shown.includes(hemisphere);
  const box = new THREE.Vector3();
  const centre = new THREE.Vector3();
  const points = shown.map((h) => meshes[h].geometry);
  points.forEach((g) => g.computeBoundingBox());
  const lo = points[0].boundingBox.min.clone(); const hi = points[0].boundingBox.max.clone();
  points.slice(1).forEach((g) => { lo.min(g.boundingBox.min); hi.max(g.boundingBox.max); });
  centre.addVectors(lo, hi).multiplyScalar(0.5);
  box.subVectors(hi, lo);
  controls.target.copy(centre);
  camera.up.set(...up);
  camera.position.set(centre.x + from[0] * 300, centre.y + from[1] * 300, centre.z + from[2] * 300);
  camera.lookAt(centre);
  fit(Math.max(box.x, box.y, box.z) * 0.55);
  controls.update();
  document.querySelectorAll('#views button').forEach((b) => b.classList.toggle('on', b.dataset.view === name));
  render();
}

function fit(half) {
  const aspect = canvas.clientWidth / Math.max(1, canvas.clientHeight);
  camera.left = -half * aspect; camera.right = half * aspect; camera.top = half; camera.bottom = -half;
  camera.updateProjectionMatrix();
  renderer.setSize(canvas.clientWidth, canvas.clientHeight, false);
}

function render() { renderer.render(scene, camera); }
controls.addEventListener('change', render);
window.addEventListener('resize', () => setView(state.view));

// -- values and colours ---------------------------------------------------------------------
function rowAt(time) {
  const shown = state.caused ? time : time - data.offset;
  for (let k = 0; k < nRows; k++) {
    if (shown >= data.row_times[k][0] && shown < data.row_times[k][1]) return k;
  }
  return shown < data.row_times[0][0] ? 0 : nRows - 1;
}

function value(row, column) {  // the quantised value back in the result's units
  return (frames[row * nColumns + column] / 255 * 2 - 1) * data.vmax;
}

function colour() {
  const row = rowAt(state.time);
  const lut = colormaps[state.cmap];
  for (const mesh of Object.values(meshes)) {
    const out = mesh.geometry.attributes.color.array;
    const { first, sulci } = mesh.userData;
    for (let i = 0; i < HALF; i++) {
      const column = columnOf[first + i];
      let r; let g; let b;
      if (state.layer === 'contributions' && rgb && column >= 0) {
        [r, g, b] = [rgb[3 * column], rgb[3 * column + 1], rgb[3 * column + 2]];
      } else if (state.layer === 'response' && column >= 0
                 && Math.abs(value(row, column)) >= state.threshold) {
        const q = Math.round(Math.min(1, Math.max(0, (value(row, column) / state.vmax + 1) / 2)) * 255);
        [r, g, b] = [lut[3 * q], lut[3 * q + 1], lut[3 * q + 2]];
      } else {
        r = g = b = sulci[i] ? 110 : 175;
      }
      out[3 * i] = r / 255; out[3 * i + 1] = g / 255; out[3 * i + 2] = b / 255;
    }
    mesh.geometry.attributes.color.needsUpdate = true;
  }
  document.getElementById('clock').textContent =
    `t = ${state.time.toFixed(1)} s · row ${row} ` +
    (state.caused ? '(with the stimulus that causes it)' : `(as measured, ${data.offset} s later)`);
  drawCourses();
  render();
}

// -- time: the slider and the media, each following the other ------------------------------
const media = document.getElementById('media');
const slider = document.getElementById('time');
slider.max = String(data.duration);
function setTime(time) {
  state.time = Math.min(Math.max(0, time), data.duration);
  slider.value = String(state.time);
  showWords();
  colour();
}
slider.addEventListener('input', () => {
  if (media && media.src) media.currentTime = Number(slider.value);
  setTime(Number(slider.value));
});
if (media) {
  media.addEventListener('seeked', () => setTime(media.currentTime));
  media.addEventListener('timeupdate', () => setTime(media.currentTime));
  const follow = () => { if (!media.paused) { setTime(media.currentTime); requestAnimationFrame(follow); } };
  media.addEventListener('play', () => requestAnimationFrame(follow));
}

const words = data.words || { text: [], start_s: [], duration_s: [] };
function showWords() {
  const box = document.getElementById('words');
  if (!box) return;
  const said = words.start_s.filter((start) => start <= state.time).length;
  box.innerHTML = '';
  for (let i = Math.max(0, said - 40); i < said; i++) {
    const span = document.createElement('span');
    span.textContent = `${words.text[i]} `;
    if (i === said - 1 && state.time < words.start_s[i] + Math.max(words.duration_s[i], 0.3)) span.className = 'now';
    box.appendChild(span);
  }
}

// -- controls ---------------------------------------------------------------------------------
for (const name of Object.keys(VIEWS)) {
  const button = document.createElement('button');
  button.textContent = name; button.dataset.view = name;
  button.addEventListener('click', () => setView(name));
  document.getElementById('views').appendChild(button);
}
const cmapSelect = document.getElementById('cmap');
for (const name of Object.keys(colormaps)) cmapSelect.add(new Option(name, name, name === state.cmap, name === state.cmap));
cmapSelect.addEventListener('change', () => { state.cmap = cmapSelect.value; colour(); });
const vmaxInput = document.getElementById('vmax');
vmaxInput.value = data.vmax.toPrecision(3);
vmaxInput.addEventListener('change', () => { state.vmax = Math.max(1e-9, Number(vmaxInput.value)); colour(); });
const thresholdInput = document.getElementById('threshold');
thresholdInput.addEventListener('change', () => { state.threshold = Math.max(0, Number(thresholdInput.value)); colour(); });
const caused = document.getElementById('caused');
caused.addEventListener('change', () => { state.caused = caused.checked; colour(); });
const layer = document.getElementById('layer');
if (!rgb) layer.disabled = true;
layer.addEventListener('change', () => { state.layer = layer.checked ? 'contributions' : 'response'; colour(); });

// -- hover: the area and value under the pointer ----------------------------------------------
const raycaster = new THREE.Raycaster();
const tip = document.getElementById('tip');
function vertexUnder(x, y) {
  const rect = canvas.getBoundingClientRect();
  const pointer = new THREE.Vector2(((x - rect.left) / rect.width) * 2 - 1, -((y - rect.top) / rect.height) * 2 + 1);
  raycaster.setFromCamera(pointer, camera);
  const hit = raycaster.intersectObjects(Object.values(meshes).filter((m) => m.visible))[0];
  if (!hit) return -1;
  const positions = hit.object.geometry.attributes.position;
  let best = hit.face.a; let distance = Infinity;
  for (const corner of [hit.face.a, hit.face.b, hit.face.c]) {
    const d = new THREE.Vector3().fromBufferAttribute(positions, corner).distanceTo(hit.point);
    if (d < distance) { distance = d; best = corner; }
  }
  return hit.object.userData.first + best;
}
function describe(vertex) {
  const area = assignments[vertex] >= 0 ? data.labels[assignments[vertex]] : 'medial wall';
  const side = vertex < HALF ? 'L' : 'R';
  const column = columnOf[vertex];
  const shown = column >= 0 ? value(rowAt(state.time), column).toPrecision(3) : 'not selected';
  return `${side}_${area} · vertex ${vertex} · ${shown}`;
}
canvas.addEventListener('pointermove', (event) => {
  const vertex = vertexUnder(event.clientX, event.clientY);
  tip.style.display = vertex < 0 ? 'none' : 'block';
  if (vertex >= 0) {
    tip.textContent = describe(vertex);
    tip.style.left = `${event.clientX + 12}px`; tip.style.top = `${event.clientY + 12}px`;
  }
});

// -- areas: their mean time courses under the stimulus ----------------------------------------
const areaInput = document.getElementById('area');
const list = document.getElementById('area-names');
for (const name of data.labels) list.appendChild(new Option(name, name));
function areaCourse(name) {
  const index = data.labels.indexOf(name);
  const members = [];
  for (let c = 0; c < nColumns; c++) if (assignments[columns[c]] === index) members.push(c);
  if (!members.length) return null;
  return Array.from({ length: nRows }, (_, k) => members.reduce((s, c) => s + value(k, c), 0) / members.length);
}
function addArea(name) {
  if (state.areas.some((a) => a.name === name)) return true;
  const course = areaCourse(name);
  if (!course) return false;
  state.areas.push({ name, course });
  drawCourses();
  return true;
}
document.getElementById('add-area').addEventListener('click', () => {
  if (!addArea(areaInput.value.trim())) areaInput.setCustomValidity('no selected vertex in that area');
  areaInput.reportValidity();
});
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
function drawCourses() {
  const plot = document.getElementById('courses');
  const context = plot.getContext('2d');
  const w = plot.width = plot.clientWidth; const h = plot.height = plot.clientHeight;
  context.clearRect(0, 0, w, h);
  if (!state.areas.length) return;
  const all = state.areas.flatMap((a) => a.course);
  const lo = Math.min(...all); const hi = Math.max(...all); const span = hi - lo || 1;
  const x = (t) => 40 + (w - 50) * (t / data.duration);
  const y = (v) => h - 20 - (h - 30) * ((v - lo) / span);
  state.areas.forEach((area, index) => {
    context.strokeStyle = COLOURS[index % COLOURS.length]; context.lineWidth = 1.5;
    context.beginPath();
    area.course.forEach((v, k) => {
      const t = (data.row_times[k][0] + data.row_times[k][1]) / 2 + (state.caused ? 0 : data.offset);
      if (k) context.lineTo(x(t), y(v)); else context.moveTo(x(t), y(v));
    });
    context.stroke();
    context.fillStyle = context.strokeStyle;
    context.fillText(area.name, 44 + 60 * index, 12);
  });
  context.strokeStyle = '#d00'; context.beginPath();
  context.moveTo(x(state.time), 0); context.lineTo(x(state.time), h); context.stroke();
}

// -- start, and the hook the tests use ------------------------------------------------------------
// The page's address may name a view and a time: viewer.html#view=ventral&t=12.5
const asked = new URLSearchParams(location.hash.slice(1));
setView(VIEWS[asked.get('view')] ? asked.get('view') : state.view);
const start = Number(asked.get('t') || 0);
setTime(start);
if (media && media.src && start) {
  const move = () => { media.currentTime = start; };
  if (media.readyState >= 1) move(); else media.addEventListener('loadedmetadata', move, { once: true });
}

async function seek(time) {  // as a person seeking the media would: the page follows
  if (!media || !media.src) { setTime(time); return; }
  if (media.readyState < 1) {
    await new Promise((resolve) => media.addEventListener('loadedmetadata', resolve, { once: true }));
  }
  await new Promise((resolve) => {
    media.addEventListener('seeked', resolve, { once: true });
    media.currentTime = time;
  });
  setTime(media.currentTime);
}
window.berg = {
  seek,
  setView,
  addArea,
  areas: () => state.areas.map((a) => a.name),
  colourOf: (vertex) => {
    const mesh = vertex < HALF ? meshes.left : meshes.right;
    const i = vertex - mesh.userData.first;
    return Array.from(mesh.geometry.attributes.color.array.slice(3 * i, 3 * i + 3));
  },
  describe,
  row: () => rowAt(state.time),
  distinctPixels: () => {
    render();
    const gl = renderer.getContext();
    const pixels = new Uint8Array(gl.drawingBufferWidth * gl.drawingBufferHeight * 4);
    gl.readPixels(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    const seen = new Set();
    for (let i = 0; i < pixels.length; i += 4 * 97) seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
    return seen.size;
  },
};
document.body.dataset.ready = 'yes';
