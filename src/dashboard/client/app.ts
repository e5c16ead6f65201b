// The dashboard's page: plain DOM, no framework. Everything from the server
// reaches the page as text nodes or attribute values, never as HTML, so a
// payload holding markup shows as the characters it is.

import type {
  ActionAnswer,
  ArchiveSearch,
  DashboardMeta,
  FinishedSeries,
  JobDetail,
  JobPage,
  JobSummary,
  KnownNames,
  Overview,
  QueueOverview,
  ScheduleList,
  ScheduleSummary,
  WorkerInfo,
  JobCount,
} from '../api-types.js';

type Child = Node | string | number | null | undefined | false | readonly Child[];
type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'object' ? (child as Node) : document.createTextNode(String(child)));
  }
}

const main = document.getElementById('main') as HTMLElement;
const statusBox = document.getElementById('status') as HTMLElement;

// --- Server access ------------------------------------------------------------

class RequestFailed extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Aborted when the page navigates: the requests of the view left behind end
 * with it, so nothing they would have drawn lands over the next view.
 */
let navigation = new AbortController();

async function getJson<T>(path: string): Promise<T> {
  const { signal } = navigation;
  const response = await fetch(path, { headers: { Accept: 'application/json' }, credentials: 'same-origin', signal });
  const body = (await response.json().catch(() => null)) as unknown;
  signal.throwIfAborted();
  if (!response.ok) {
    const message = body && typeof body === 'object' && 'message' in body ? String(body.message) : response.statusText;
    throw new RequestFailed(response.status, message);
  }
  return body as T;
}

async function postAction(path: string): Promise<ActionAnswer> {
  const response = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'x-proletarian-csrf': meta.csrfToken ?? '' },
    body: '{}',
  });
  const body = (await response.json().catch(() => ({ ok: false, message: response.statusText }))) as ActionAnswer;
  return body;
}

function say(message: string): void {
  statusBox.textContent = message;
  window.setTimeout(() => {
    if (statusBox.textContent === message) statusBox.textContent = '';
  }, 6000);
}

// --- Formatting ---------------------------------------------------------------

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.round(m / 6) / 10;
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} d`;
}

function time(iso: string | null): Node {
  if (!iso) return document.createTextNode('—');
  const date = new Date(iso);
  const delta = Date.now() - date.getTime();
  const relative = delta >= 0 ? `${duration(delta)} ago` : `in ${duration(-delta)}`;
  return h('time', { datetime: iso, title: date.toLocaleString() }, relative);
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

// --- Theme ----------------------------------------------------------------------

const THEMES = ['auto', 'light', 'dark'] as const;
type Theme = (typeof THEMES)[number];
const themeButton = document.getElementById('theme-toggle') as HTMLButtonElement;

function applyTheme(theme: Theme): void {
  if (theme === 'auto') delete document.documentElement.dataset['theme'];
  else document.documentElement.dataset['theme'] = theme;
  themeButton.textContent = `Theme: ${theme}`;
  themeButton.setAttribute('aria-label', `Colour theme: ${theme}. Change theme`);
}

function storedTheme(): Theme {
  const value = localStorage.getItem('proletarian-theme');
  return THEMES.find((theme) => theme === value) ?? 'auto';
}

themeButton.addEventListener('click', () => {
  const next = THEMES[(THEMES.indexOf(storedTheme()) + 1) % THEMES.length]!;
  localStorage.setItem('proletarian-theme', next);
  applyTheme(next);
  void route(); // charts take their colours when drawn
});

// --- Routing --------------------------------------------------------------------

let meta: DashboardMeta;
/** Stops the current view's refresh timer when another view replaces it. */
let leaveView: () => void = () => {};

function setSection(section: string): void {
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a[data-section]')) {
    if (link.dataset['section'] === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function show(title: string, ...content: Child[]): void {
  document.title = `${title} · ${meta.title}`;
  main.replaceChildren();
  append(main, content);
}

async function route(): Promise<void> {
  leaveView();
  leaveView = () => {};
  navigation.abort();
  navigation = new AbortController();
  const { signal } = navigation;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = hash.split('?');
  const params = new URLSearchParams(search);
  try {
    const jobMatch = /^\/jobs\/([0-9a-f-]{36})$/i.exec(path);
    if (jobMatch) await jobView(jobMatch[1]!);
    else if (path === '/jobs') await jobsView(params);
    else if (path === '/workers') await workersView();
    else if (path === '/schedules') await schedulesView();
    else await overviewView();
  } catch (error) {
    // Left for another view before this one was drawn: that one draws.
    if (signal.aborted) return;
    const message = error instanceof Error ? error.message : String(error);
    show('Error', h('h1', {}, 'Something went wrong'), h('p', { class: 'bad' }, message));
  }
}

/** Calls `refresh` every poll interval while the page is visible, until the view is left. */
function poll(refresh: () => Promise<void>): void {
  let stopped = false;
  let timer = 0;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      await refresh().catch((error: unknown) => {
        if (!stopped) say(`Refresh failed: ${String(error)}`);
      });
    }
    if (!stopped) timer = window.setTimeout(tick, meta.pollIntervalMs);
  };
  timer = window.setTimeout(tick, meta.pollIntervalMs);
  leaveView = () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

// --- Overview -------------------------------------------------------------------

const QUEUE_COLUMNS: readonly { key: keyof QueueOverview; label: string; state?: string }[] = [
  { key: 'waiting', label: 'Waiting', state: 'waiting' },
  { key: 'scheduled', label: 'Scheduled', state: 'scheduled' },
  { key: 'running', label: 'Running', state: 'running' },
  { key: 'retrying', label: 'Retrying', state: 'retrying' },
  { key: 'succeededLastHour', label: 'Succeeded, 1 h', state: 'succeeded' },
  { key: 'failedLastHour', label: 'Failed, 1 h', state: 'failed' },
  { key: 'succeededLastDay', label: 'Succeeded, 24 h', state: 'succeeded' },
  { key: 'failedLastDay', label: 'Failed, 24 h', state: 'failed' },
];

async function overviewView(): Promise<void> {
  setSection('overview');
  const data = await getJson<Overview>('api/overview');
  const tableHolder = h('div', { class: 'table-wrap' });
  const hourChart = h('div', { class: 'chart-area' });
  const dayChart = h('div', { class: 'chart-area' });
  const hourSummary = h('p', { class: 'visually-hidden' });
  const daySummary = h('p', { class: 'visually-hidden' });
  show(
    'Overview',
    h('h1', {}, 'Overview'),
    h('p', { class: 'muted' }, 'Updated ', h('span', { id: 'updated-at' }, time(data.generatedAt)), '; refreshes by itself.'),
    tableHolder,
    h('h2', {}, 'Finished jobs'),
    h(
      'div',
      { class: 'charts' },
      h('figure', { class: 'chart' }, h('figcaption', {}, 'Last hour, per minute'), hourSummary, hourChart),
      h('figure', { class: 'chart' }, h('figcaption', {}, 'Last 24 hours, per 15 minutes'), daySummary, dayChart),
    ),
  );
  const charts = [drawChart(hourChart, data.lastHour), drawChart(dayChart, data.lastDay)];
  const render = (overview: Overview) => {
    tableHolder.replaceChildren(queueTable(overview.queues, render));
    hourSummary.textContent = seriesSummary('last hour', overview.lastHour);
    daySummary.textContent = seriesSummary('last 24 hours', overview.lastDay);
    charts[0]?.setData(chartData(overview.lastHour));
    charts[1]?.setData(chartData(overview.lastDay));
    document.getElementById('updated-at')?.replaceChildren(time(overview.generatedAt));
  };
  render(data);
  poll(async () => {
    // Keep keyboard focus where it was: the table is rebuilt only when its numbers changed.
    const next = await getJson<Overview>('api/overview');
    const active = document.activeElement;
    const focused = active?.getAttribute('data-key') ?? active?.getAttribute('href');
    render(next);
    if (focused) {
      const selector = `[data-key="${CSS.escape(focused)}"], a[href="${CSS.escape(focused)}"]`;
      tableHolder.querySelector<HTMLElement>(selector)?.focus();
    }
  });
}

/** Pauses or resumes a queue, then redraws the overview with what the server says now. */
async function queueAction(queue: string, action: string, render: (overview: Overview) => void): Promise<void> {
  const answer = await postAction(`api/queues/${encodeURIComponent(queue)}/${action}`);
  say(answer.message);
  render(await getJson<Overview>('api/overview'));
}

function queueTable(queues: readonly QueueOverview[], render: (overview: Overview) => void): Node {
  const actions = meta.queueActions.length > 0;
  if (queues.length === 0) return h('p', { class: 'muted' }, 'No jobs yet, in any queue.');
  return h(
    'table',
    { id: 'queues' },
    h('caption', { class: 'visually-hidden' }, 'Jobs per queue'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Queue'),
        QUEUE_COLUMNS.map((column) => h('th', { scope: 'col', class: 'num' }, column.label)),
        h('th', { scope: 'col', class: 'num' }, 'Oldest due'),
        h('th', { scope: 'col' }, 'State'),
      ),
    ),
    h(
      'tbody',
      {},
      queues.map((queue) =>
        h(
          'tr',
          { 'data-queue': queue.queue },
          h('th', { scope: 'row' }, queue.queue),
          QUEUE_COLUMNS.map((column) => {
            const value = queue[column.key] as number;
            const cls = column.key.startsWith('failed') && value > 0 ? 'num bad' : 'num';
            const href = `#/jobs${query({ state: column.state, queue: queue.queue })}`;
            return h('td', { class: cls }, h('a', { href, 'aria-label': `${count(value)} ${column.label.toLowerCase()} in ${queue.queue}` }, count(value)));
          }),
          h('td', { class: queue.oldestDueAgeMs !== null && queue.oldestDueAgeMs > 60_000 ? 'num warn' : 'num' }, queue.oldestDueAgeMs === null ? '—' : duration(queue.oldestDueAgeMs)),
          h(
            'td',
            { class: 'queue-state' },
            h('span', { class: queue.paused ? 'warn' : 'muted' }, queue.paused ? 'Paused' : 'Running'),
            actions
              ? [
                  ' ',
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'small',
                      'data-key': `${queue.paused ? 'resume' : 'pause'}:${queue.queue}`,
                      'aria-label': `${queue.paused ? 'Resume' : 'Pause'} queue ${queue.queue}`,
                      onclick: () => void queueAction(queue.queue, queue.paused ? 'resume' : 'pause', render),
                    },
                    queue.paused ? 'Resume' : 'Pause',
                  ),
                ]
              : null,
          ),
        ),
      ),
    ),
  );
}

function seriesSummary(window: string, series: FinishedSeries): string {
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return `In the ${window}: ${count(sum(series.succeeded))} succeeded, ${count(sum(series.failed))} failed.`;
}

function chartData(series: FinishedSeries): uPlot.AlignedData {
  return [series.start.map((ms) => ms / 1000), series.succeeded, series.failed];
}

function drawChart(target: HTMLElement, series: FinishedSeries): uPlot | null {
  if (typeof uPlot === 'undefined') return null;
  const style = getComputedStyle(document.documentElement);
  const colour = (name: string) => style.getPropertyValue(name).trim();
  const axis = { stroke: colour('--muted'), grid: { stroke: colour('--line'), width: 1 }, ticks: { stroke: colour('--line') } };
  const width = Math.max(300, Math.min(target.clientWidth || 600, 900));
  return new uPlot(
    {
      width,
      height: 220,
      series: [
        {},
        { label: 'Succeeded', stroke: colour('--good'), width: 2, fill: 'transparent' },
        { label: 'Failed', stroke: colour('--bad'), width: 2 },
      ],
      axes: [axis, axis],
      scales: { y: { range: (_self, _min, max) => [0, Math.max(1, max)] } },
    },
    chartData(series),
    target,
  );
}

// --- Jobs -----------------------------------------------------------------------

const STATE_LABELS: Record<string, string> = {
  waiting: 'Waiting',
  scheduled: 'Scheduled',
  running: 'Running',
  retrying: 'Retrying',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  discarded: 'Discarded',
};

const ACTION_LABELS: Record<string, string> = {
  retry: 'Retry',
  cancel: 'Cancel',
  delete: 'Delete',
  'run-now': 'Run now',
};

let names: KnownNames | null = null;

async function jobsView(params: URLSearchParams): Promise<void> {
  setSection('jobs');
  const state = params.get('state') ?? 'waiting';
  const filter = {
    state,
    queue: params.get('queue') ?? undefined,
    type: params.get('type') ?? undefined,
    from: params.get('from') ?? undefined,
    to: params.get('to') ?? undefined,
    q: params.get('q') ?? undefined,
    order: params.get('order') ?? undefined,
  };
  const after = params.get('after') ?? undefined;
  const [page, known] = await Promise.all([
    getJson<JobPage>(`api/jobs${query({ ...filter, from: isoOf(filter.from), to: isoOf(filter.to), after })}`),
    names ? Promise.resolve(names) : getJson<KnownNames>('api/names'),
  ]);
  names = known;
  const archived = meta.archivedStates.includes(state);
  const states = [...meta.liveStates, ...meta.archivedStates];
  const newestFirst = (filter.order ?? (archived ? 'desc' : 'asc')) === 'desc';
  show(
    `${STATE_LABELS[state] ?? state} jobs`,
    h('h1', {}, `${STATE_LABELS[state] ?? state} jobs`),
    h(
      'nav',
      { 'aria-label': 'Job states' },
      h(
        'ul',
        { class: 'tabs' },
        states.map((s) =>
          h('li', {}, h('a', { href: `#/jobs${query({ ...filter, state: s, order: undefined })}`, 'aria-current': s === state ? 'page' : undefined }, STATE_LABELS[s] ?? s)),
        ),
      ),
    ),
    filterForm(filter, known, archived),
    bulkBar(filter),
    page.searched ? searchNote(page.searched, state, page.jobs.length, newestFirst) : null,
    page.jobs.length === 0
      ? page.searched
        ? null
        : h('p', { class: 'muted', id: 'no-jobs' }, after ? 'No more jobs.' : 'No jobs match.')
      : jobTable(page.jobs, archived),
    h(
      'div',
      { class: 'pager' },
      after ? h('a', { href: `#/jobs${query(filter)}` }, 'First page') : null,
      page.next
        ? h(
            'a',
            { href: `#/jobs${query({ ...filter, after: page.next })}`, rel: 'next', id: page.searched ? 'search-on' : undefined },
            page.searched ? (newestFirst ? 'Search further back' : 'Search further') : 'Next page',
          )
        : null,
    ),
  );
}

/** Says how far a search of the finished jobs went before its time was up: the page shows what it found so far. */
function searchNote(searched: ArchiveSearch, state: string, found: number, newestFirst: boolean): Node {
  const label = STATE_LABELS[state]?.toLowerCase() ?? state;
  return h(
    'p',
    { class: 'search-note', id: 'search-note' },
    `Searched ${count(searched.jobs)} ${label} job${searched.jobs === 1 ? '' : 's'}, ${newestFirst ? 'back' : 'on'} to those finished `,
    time(searched.until),
    `: ${found === 0 ? 'none of them matches' : `${count(found)} match${found === 1 ? 'es' : ''}`}. ${newestFirst ? 'Older' : 'Newer'} ones are not searched yet.`,
  );
}

/** Buttons acting on every job the filter matches, each after a confirmation that says how many. */
function bulkBar(filter: Record<string, string | undefined>): Node | null {
  const state = filter['state'] ?? 'waiting';
  const actions = Object.entries(meta.bulkActions).filter(([, states]) => states.includes(state));
  if (actions.length === 0) return null;
  const selection = query({
    state,
    queue: filter['queue'],
    type: filter['type'],
    from: isoOf(filter['from']),
    to: isoOf(filter['to']),
    q: filter['q'],
  });
  return h(
    'div',
    { class: 'actions bulk', role: 'group', 'aria-label': 'Act on every job that matches the filter' },
    actions.map(([action]) =>
      h(
        'button',
        {
          type: 'button',
          class: action === 'delete' ? 'danger' : undefined,
          id: `bulk-${action}`,
          onclick: async () => {
            const { count: matching, searched } = await getJson<JobCount>(`api/jobs/count${selection}`);
            if (matching === 0 && !searched) {
              say('No job matches the filter.');
              return;
            }
            const label = STATE_LABELS[state]?.toLowerCase() ?? state;
            const what = `${count(matching)} ${label} job${matching === 1 ? '' : 's'}`;
            // Counting finished jobs stops when its time is up: the question says how far it went.
            const question = searched
              ? `${ACTION_LABELS[action] ?? action} every ${label} job that matches this filter? ` +
                `Counted so far: ${count(matching)} among the ${count(searched.jobs)} newest, finished since ${new Date(searched.until).toLocaleString()}; ` +
                'older ones were not counted, and the action goes through them too.'
              : `${ACTION_LABELS[action] ?? action} ${what} that match${matching === 1 ? 'es' : ''} this filter?`;
            if (!window.confirm(question)) return;
            const answer = await postAction(`api/bulk/${action}${selection}`);
            say(answer.message);
            await route();
          },
        },
        `${ACTION_LABELS[action] ?? action} all matching…`,
      ),
    ),
  );
}

/** `datetime-local` values are local times without a zone; the API wants instants. */
function isoOf(local: string | undefined): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function filterForm(filter: Record<string, string | undefined>, known: KnownNames, archived: boolean): Node {
  const select = (name: string, label: string, options: readonly string[]) =>
    h(
      'label',
      {},
      label,
      h(
        'select',
        { name },
        h('option', { value: '' }, 'All'),
        options.map((option) => h('option', { value: option, selected: option === filter[name] }, option)),
      ),
    );
  const input = (name: string, label: string, type: string, extra: Attrs = {}) =>
    h('label', {}, label, h('input', { name, type, value: filter[name] ?? '', ...extra }));
  const timeName = archived ? 'Finished' : 'Due';
  const form = h(
    'form',
    {
      class: 'filters',
      role: 'search',
      'aria-label': 'Filter jobs',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const data = new FormData(event.target as HTMLFormElement);
        const next: Record<string, string | undefined> = { state: filter['state'] };
        for (const [key, value] of data.entries()) if (typeof value === 'string' && value) next[key] = value;
        location.hash = `#/jobs${query(next)}`;
      },
    },
    select('queue', 'Queue', known.queues),
    select('type', 'Job type', known.jobTypes),
    input('from', `${timeName} from`, 'datetime-local'),
    input('to', `${timeName} before`, 'datetime-local'),
    input('q', 'Text in payload or error', 'search', { maxlength: 200, placeholder: 'e.g. user:42' }),
    h(
      'label',
      {},
      'Order',
      h(
        'select',
        { name: 'order' },
        h('option', { value: '' }, archived ? 'Newest first' : 'Oldest first'),
        h('option', { value: archived ? 'asc' : 'desc', selected: filter['order'] === (archived ? 'asc' : 'desc') }, archived ? 'Oldest first' : 'Newest first'),
      ),
    ),
    h('button', { type: 'submit' }, 'Apply'),
  );
  return form;
}

function jobTable(jobs: readonly JobSummary[], archived: boolean): Node {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'jobs' },
      h('caption', { class: 'visually-hidden' }, 'Jobs'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Job', 'Type', 'Queue', 'Priority', 'Attempts', archived ? 'Finished' : 'Due', 'Payload', 'Last error'].map((label) =>
            h('th', { scope: 'col', class: label === 'Priority' || label === 'Attempts' ? 'num' : undefined }, label),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        jobs.map((job) =>
          h(
            'tr',
            { 'data-job-id': job.id },
            h('td', {}, h('a', { href: `#/jobs/${job.id}`, 'aria-label': `Job ${job.id}` }, h('code', {}, job.id.slice(-12)))),
            h('td', {}, job.jobType),
            h('td', {}, job.queue),
            h('td', { class: 'num' }, job.priority),
            h('td', { class: 'num' }, job.attempts),
            h('td', {}, time(archived ? job.finishedAt : job.processAt)),
            h('td', {}, h('code', { class: 'payload' }, job.payloadPreview)),
            h('td', { class: 'bad' }, job.errorMessage ?? ''),
          ),
        ),
      ),
    ),
  );
}

// --- A job ----------------------------------------------------------------------

async function jobView(id: string): Promise<void> {
  setSection('jobs');
  let job: JobDetail;
  try {
    job = await getJson<JobDetail>(`api/jobs/${id}`);
  } catch (error) {
    if (error instanceof RequestFailed && error.status === 404) {
      show('No such job', h('h1', {}, 'No such job'), h('p', {}, `No job has the id ${id}: it may have been deleted or pruned.`));
      return;
    }
    throw error;
  }
  const field = (label: string, value: Child) => [h('dt', {}, label), h('dd', {}, value)];
  const offered = meta.jobActions.filter((action) => meta.jobActionStates[action]?.includes(job.state));
  const confirmations: Record<string, string> = {
    delete: `Delete job ${job.id} for good?`,
    cancel: `Cancel job ${job.id}?`,
  };
  const actions =
    offered.length > 0
      ? h(
          'div',
          { class: 'actions' },
          offered.map((action) =>
            h(
              'button',
              {
                type: 'button',
                class: action === 'delete' || action === 'cancel' ? 'danger' : undefined,
                id: `${action}-job`,
                onclick: async () => {
                  const question = confirmations[action];
                  if (question && !window.confirm(question)) return;
                  const answer = await postAction(`api/jobs/${job.id}/${action}`);
                  say(answer.message);
                  if (answer.ok && action === 'delete') location.hash = `#/jobs${query({ state: job.state, queue: job.queue })}`;
                  else await route();
                },
              },
              `${ACTION_LABELS[action] ?? action} job`,
            ),
          ),
        )
      : null;
  show(
    `Job ${job.jobType}`,
    h('h1', {}, 'Job ', h('code', {}, job.id)),
    h(
      'dl',
      { class: 'fields' },
      field('State', h('a', { href: `#/jobs${query({ state: job.state, queue: job.queue })}`, id: 'job-state' }, STATE_LABELS[job.state] ?? job.state)),
      field('Type', job.jobType),
      field('Queue', job.queue),
      field('Priority', String(job.priority)),
      field('Attempts', String(job.attempts)),
      job.abandonedRuns ? field('Abandoned runs', String(job.abandonedRuns)) : null,
      field('Unique key', job.uniqueKey === null ? h('span', { class: 'muted' }, 'none') : h('code', {}, job.uniqueKey)),
      job.lockedBy ? field('Leased by', h('code', {}, job.lockedBy)) : null,
      field('Enqueued', time(job.enqueuedAt)),
      field(job.finishedAt ? 'Last due' : 'Due', time(job.processAt)),
      job.finishedAt ? field('Finished', time(job.finishedAt)) : null,
    ),
    actions,
    h('h2', {}, 'Payload'),
    h('pre', { id: 'payload', tabindex: 0, 'aria-label': 'Payload' }, JSON.stringify(job.payload, null, 2) ?? 'undefined'),
    h('h2', {}, 'Last error'),
    job.lastError
      ? [
          h('p', { class: 'bad', id: 'error-message' }, `${job.lastError.name ?? 'Error'}: ${job.lastError.message ?? ''}`, job.lastError.attempt ? ` (attempt ${job.lastError.attempt})` : ''),
          job.lastError.stack ? h('pre', { id: 'error-stack', tabindex: 0, 'aria-label': 'Stack trace' }, job.lastError.stack) : null,
        ]
      : h('p', { class: 'muted' }, 'None: no attempt has failed.'),
    job.errors.length > 1
      ? [
          h('h2', {}, 'Earlier failed attempts'),
          h(
            'ol',
            { class: 'attempts', id: 'earlier-errors' },
            job.errors.slice(0, -1).map((error) =>
              h(
                'li',
                {},
                h(
                  'details',
                  {},
                  h(
                    'summary',
                    {},
                    error.attempt ? `Attempt ${error.attempt}` : 'Attempt',
                    error.failedAt ? [' — ', time(error.failedAt)] : null,
                    ` — ${error.name ?? 'Error'}: ${error.message ?? ''}`,
                  ),
                  error.stack ? h('pre', { tabindex: 0, 'aria-label': 'Stack trace' }, error.stack) : null,
                ),
              ),
            ),
          ),
        ]
      : null,
    h('h2', {}, 'Timeline'),
    h('ol', { class: 'timeline' }, job.timeline.map((entry) => h('li', {}, entry.at ? [time(entry.at), ' — '] : null, entry.what))),
  );
}

// --- Workers --------------------------------------------------------------------

async function workersView(): Promise<void> {
  setSection('workers');
  const holder = h('div', { class: 'table-wrap' });
  const render = (workers: readonly WorkerInfo[]) => holder.replaceChildren(workerTable(workers));
  render((await getJson<{ workers: WorkerInfo[] }>('api/workers')).workers);
  show(
    'Workers',
    h('h1', {}, 'Workers'),
    h('p', { class: 'muted' }, 'Workers report every 10 seconds; one silent for 30 seconds is no longer listed.'),
    holder,
  );
  poll(async () => render((await getJson<{ workers: WorkerInfo[] }>('api/workers')).workers));
}

function workerTable(workers: readonly WorkerInfo[]): Node {
  if (workers.length === 0) return h('p', { class: 'muted', id: 'no-workers' }, 'No worker is running.');
  return h(
    'table',
    { id: 'workers' },
    h('caption', { class: 'visually-hidden' }, 'Running workers'),
    h(
      'thead',
      {},
      h('tr', {}, ['Worker', 'Queue', 'Host', 'PID', 'Concurrency', 'Started', 'Last seen', 'Jobs done', 'Running now'].map((label) => h('th', { scope: 'col' }, label))),
    ),
    h(
      'tbody',
      {},
      workers.map((worker) =>
        h(
          'tr',
          { 'data-worker-id': worker.workerId },
          h('th', { scope: 'row' }, worker.workerId),
          h('td', {}, worker.queue),
          h('td', {}, worker.host),
          h('td', { class: 'num' }, worker.pid),
          h('td', { class: 'num' }, worker.concurrency),
          h('td', {}, time(worker.startedAt)),
          h('td', {}, time(worker.lastSeenAt)),
          h('td', { class: 'num' }, count(worker.jobsDone)),
          h(
            'td',
            {},
            worker.runningJobs.length === 0
              ? h('span', { class: 'muted' }, 'idle')
              : worker.runningJobs.map((id) => [h('a', { href: `#/jobs/${id}`, 'aria-label': `Job ${id}` }, h('code', {}, id.slice(-12))), ' ']),
          ),
        ),
      ),
    ),
  );
}

// --- Schedules ------------------------------------------------------------------

async function schedulesView(): Promise<void> {
  setSection('schedules');
  const { schedules } = await getJson<ScheduleList>('api/schedules');
  show(
    'Schedules',
    h('h1', {}, 'Schedules'),
    h('p', { class: 'muted' }, 'Recurring jobs, as the workers that run them last defined them, with their next runs.'),
    schedules.length === 0 ? h('p', { class: 'muted', id: 'no-schedules' }, 'No schedule has run yet.') : scheduleTable(schedules),
  );
}

function scheduleTable(schedules: readonly ScheduleSummary[]): Node {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'schedules' },
      h('caption', { class: 'visually-hidden' }, 'Schedules'),
      h('thead', {}, h('tr', {}, ['Schedule', 'Cron', 'Time zone', 'Job type', 'Queue', 'Last run', 'Next runs'].map((label) => h('th', { scope: 'col' }, label)))),
      h(
        'tbody',
        {},
        schedules.map((schedule) =>
          h(
            'tr',
            { 'data-schedule': schedule.name },
            h('th', { scope: 'row' }, schedule.name),
            h('td', {}, h('code', {}, schedule.cron)),
            h('td', {}, schedule.timezone),
            h('td', {}, h('a', { href: `#/jobs${query({ state: 'succeeded', queue: schedule.queue, type: schedule.jobType })}` }, schedule.jobType)),
            h('td', {}, schedule.queue),
            h('td', {}, time(schedule.lastSlot)),
            h(
              'td',
              {},
              schedule.nextRuns.length === 0
                ? h('span', { class: 'muted' }, 'none')
                : h('ul', { class: 'runs' }, schedule.nextRuns.map((run) => h('li', {}, h('time', { datetime: run }, new Date(run).toLocaleString()), ' (', time(run), ')'))),
            ),
          ),
        ),
      ),
    ),
  );
}

// --- Start ----------------------------------------------------------------------

async function start(): Promise<void> {
  applyTheme(storedTheme());
  document.getElementById('skip-link')?.addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  try {
    meta = await getJson<DashboardMeta>('api/meta');
  } catch (error) {
    main.replaceChildren(h('p', { class: 'bad' }, `Cannot reach the dashboard's API: ${String(error)}`));
    return;
  }
  const brand = document.getElementById('brand');
  if (brand) brand.textContent = meta.title;
  window.addEventListener('hashchange', () => {
    void route().then(() => main.focus({ preventScroll: false }));
  });
  await route();
  document.documentElement.dataset['ready'] = 'true';
}

void start();
