import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { snowflake } from './snowflake.ts';

/**
 * A fake Discord on 127.0.0.1 for end-to-end tests of the real discord.js client: the REST routes
 * the bot uses (under `/api/v10`) and a JSON gateway speaking the real protocol (HELLO, IDENTIFY,
 * READY, GUILD_CREATE, heartbeat/ACK, dispatches). Everything the bot sends is recorded.
 */

export interface FakeChannel {
  id: string;
  name: string;
  nsfw: boolean;
  type?: number;
}

export interface FakeDiscordOptions {
  token: string;
  applicationId: string;
  botUserId?: string;
  guildId?: string;
  guildLocale?: string;
  channels?: FakeChannel[];
  heartbeatIntervalMs?: number;
  /** Shards GET /gateway/bot recommends (default 1); dispatches then go to the shard owning the server. */
  shards?: number;
}

export interface RecordedFile {
  field: string;
  name: string;
  data: Buffer;
}

export interface RecordedRequest {
  method: string;
  /** Path after `/api/v10`, e.g. `/channels/1/messages`. */
  path: string;
  query: Record<string, string>;
  authorization: string | null;
  /** JSON body (or the multipart `payload_json`). */
  body: Record<string, unknown> | null;
  files: RecordedFile[];
  status: number;
  at: number;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  content: string;
  embeds: unknown[];
  flags: number;
  attachments: Array<{ id: string; filename: string; size: number; data: Buffer }>;
  interactionToken: string | null;
  deleted: boolean;
}

export interface FakeInteraction {
  id: string;
  token: string;
  channelId: string;
  userId: string;
  dispatchedAt: number;
  expired: boolean;
  originalMessageId: string | null;
  callbacks: Array<{ type: number; data: Record<string, unknown> | null; at: number }>;
}

/** An injected failure: the reply Discord gives instead of handling the request. */
export interface FakeFault {
  status: number;
  json?: unknown;
}

/** Decides, per request, whether the fake Discord fails it (null: handle it normally). */
export type FaultRule = (request: { method: string; path: string }) => FakeFault | null;

export type OptionInput = string | number | boolean | { channelId: string };

export interface InvokeOptions {
  name: string;
  subcommand?: string;
  options?: Record<string, OptionInput>;
  userId?: string;
  channelId?: string;
  locale?: string;
  /** Member permission bits in the channel (default: a plain member without Manage Channels). */
  permissions?: bigint;
  attachmentSizeLimit?: number;
  /** Autocomplete: the focused option's name. */
  focused?: string;
  /** Invoke from a DM with the bot instead of the server. */
  dm?: boolean;
  /** The server id the interaction carries (default: the fake guild); load tests spread over many. */
  guildId?: string;
}

const API_PREFIX = '/api/v10';
const PERM_VIEW_SEND_USE = (1n << 10n) | (1n << 11n) | (1n << 31n);

export interface FakeDiscord {
  readonly apiUrl: string;
  readonly gatewayUrl: string;
  readonly requests: RecordedRequest[];
  readonly messages: Map<string, FakeMessage>;
  readonly interactions: Map<string, FakeInteraction>;
  readonly gateway: {
    identifies: Array<{ intents: number; token: string; shard: [number, number] }>;
    heartbeats: number;
    query: string[];
  };
  readonly guildId: string;
  readonly botUserId: string;
  readonly channels: FakeChannel[];
  /** Registered application commands (guild-scoped under `guild:<id>`, global under `global`). */
  readonly commands: Map<string, unknown[]>;
  invoke(options: InvokeOptions): FakeInteraction;
  autocomplete(options: InvokeOptions & { focused: string }): FakeInteraction;
  react(options: { userId: string; channelId: string; messageId: string; emoji: string }): void;
  unreact(options: { userId: string; channelId: string; messageId: string; emoji: string }): void;
  /** Make an interaction's webhook token invalid, as Discord does after 15 minutes. */
  expire(token: string): void;
  /** Fail matching REST requests with the given reply (null removes the rule). */
  setFault(rule: FaultRule | null): void;
  /** Delete a channel (later REST calls on it answer 10003 Unknown Channel). */
  deleteChannel(channelId: string): void;
  waitFor(
    predicate: (r: RecordedRequest) => boolean,
    timeoutMs?: number,
    label?: string,
  ): Promise<RecordedRequest>;
  /** Wait until every open gateway connection has identified. */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeDiscord(options: FakeDiscordOptions): Promise<FakeDiscord> {
  const botUserId = options.botUserId ?? snowflake();
  const guildId = options.guildId ?? snowflake();
  const channels = options.channels ?? [
    { id: snowflake(), name: 'general', nsfw: false },
    { id: snowflake(), name: 'after-dark', nsfw: true },
  ];
  const heartbeatInterval = options.heartbeatIntervalMs ?? 45_000;
  const requests: RecordedRequest[] = [];
  const messages = new Map<string, FakeMessage>();
  const interactions = new Map<string, FakeInteraction>();
  const byToken = new Map<string, FakeInteraction>();
  const commands = new Map<string, unknown[]>();
  const gatewayState = {
    identifies: [] as Array<{ intents: number; token: string; shard: [number, number] }>,
    heartbeats: 0,
    query: [] as string[],
  };
  const events = new EventEmitter();
  events.setMaxListeners(100);
  const sockets = new Set<WebSocket>();
  const identified = new Set<WebSocket>();
  const shardCount = options.shards ?? 1;
  /** The shard id each identified connection said it is. */
  const shardOf = new Map<WebSocket, number>();
  // Discord's rule: shard_id = (guild_id >> 22) % num_shards; events without a server go to shard 0.
  const shardFor = (guild: unknown): number =>
    typeof guild === 'string' ? Number((BigInt(guild) >> 22n) % BigInt(shardCount)) : 0;
  let seq = 0;
  let fault: FaultRule | null = null;

  const botUser = {
    id: botUserId,
    username: 'loralens',
    discriminator: '0',
    global_name: null,
    avatar: null,
    bot: true,
  };
  const user = (id: string) => ({
    id,
    username: `user${id.slice(-4)}`,
    discriminator: '0',
    global_name: null,
    avatar: null,
  });
  const channelPayload = (c: FakeChannel) => ({
    id: c.id,
    type: c.type ?? 0,
    name: c.name,
    nsfw: c.nsfw,
    guild_id: guildId,
    position: 0,
    permission_overwrites: [],
    topic: null,
    last_message_id: null,
    rate_limit_per_user: 0,
    parent_id: null,
  });

  const messagePayload = (m: FakeMessage) => ({
    id: m.id,
    type: 0,
    channel_id: m.channel_id,
    guild_id: guildId,
    author: botUser,
    content: m.content,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: m.attachments.map((a) => ({
      id: a.id,
      filename: a.filename,
      size: a.size,
      url: `https://cdn.example/${a.id}/${a.filename}`,
      proxy_url: `https://cdn.example/${a.id}/${a.filename}`,
    })),
    embeds: m.embeds,
    pinned: false,
    flags: m.flags,
    components: [],
    ...(m.interactionToken
      ? { webhook_id: options.applicationId, application_id: options.applicationId }
      : {}),
  });

  const send = (ws: WebSocket, payload: unknown): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(payload));
  };
  const dispatch = (t: string, d: unknown): void => {
    seq++;
    const target = shardFor((d as { guild_id?: unknown } | null)?.guild_id);
    for (const ws of identified) if ((shardOf.get(ws) ?? 0) === target) send(ws, { op: 0, t, s: seq, d });
  };

  // ---------- REST ----------
  const readBody = async (
    req: IncomingMessage,
  ): Promise<{ body: Record<string, unknown> | null; files: RecordedFile[] }> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const type = req.headers['content-type'] ?? '';
    if (raw.length === 0) return { body: null, files: [] };
    if (type.startsWith('multipart/form-data')) {
      const form = await new Request('http://fake.local/', {
        method: 'POST',
        headers: { 'content-type': type },
        body: raw,
      }).formData();
      let body: Record<string, unknown> | null = null;
      const files: RecordedFile[] = [];
      for (const [field, value] of form.entries()) {
        if (typeof value === 'string') {
          if (field === 'payload_json') body = JSON.parse(value) as Record<string, unknown>;
        } else {
          files.push({ field, name: value.name, data: Buffer.from(await value.arrayBuffer()) });
        }
      }
      return { body, files };
    }
    return { body: JSON.parse(raw.toString('utf8')) as Record<string, unknown>, files: [] };
  };

  const makeMessage = (
    channelId: string,
    body: Record<string, unknown> | null,
    files: RecordedFile[],
    interactionToken: string | null,
  ): FakeMessage => {
    const m: FakeMessage = {
      id: snowflake(),
      channel_id: channelId,
      content: typeof body?.content === 'string' ? body.content : '',
      embeds: Array.isArray(body?.embeds) ? body.embeds : [],
      flags: typeof body?.flags === 'number' ? body.flags : 0,
      attachments: files.map((f) => ({
        id: snowflake(),
        filename: f.name,
        size: f.data.length,
        data: f.data,
      })),
      interactionToken,
      deleted: false,
    };
    messages.set(m.id, m);
    return m;
  };

  const applyEdit = (m: FakeMessage, body: Record<string, unknown> | null, files: RecordedFile[]): void => {
    if (typeof body?.content === 'string') m.content = body.content;
    if (Array.isArray(body?.embeds)) m.embeds = body.embeds;
    if (files.length > 0 || Array.isArray(body?.attachments)) {
      m.attachments = files.map((f) => ({
        id: snowflake(),
        filename: f.name,
        size: f.data.length,
        data: f.data,
      }));
    }
  };

  type Reply = { status: number; json?: unknown };
  const route = async (
    method: string,
    path: string,
    body: Record<string, unknown> | null,
    files: RecordedFile[],
    auth: string | null,
  ): Promise<Reply> => {
    const injected = fault?.({ method, path });
    if (injected) return injected;
    const botAuth = auth === `Bot ${options.token}`;
    const unauthorized: Reply = { status: 401, json: { message: '401: Unauthorized', code: 0 } };
    const invalidWebhook: Reply = { status: 401, json: { message: 'Invalid Webhook Token', code: 50027 } };
    let m: RegExpExecArray | null;

    if (method === 'GET' && path === '/gateway/bot') {
      if (!botAuth) return unauthorized;
      return {
        status: 200,
        json: {
          url: gatewayUrl,
          shards: shardCount,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 60_000, max_concurrency: 1 },
        },
      };
    }
    m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path);
    if (m && method === 'POST') {
      const interaction = interactions.get(m[1] ?? '');
      if (!interaction || interaction.token !== m[2])
        return { status: 404, json: { message: 'Unknown interaction', code: 10062 } };
      if (interaction.callbacks.length > 0) {
        return { status: 400, json: { message: 'Interaction has already been acknowledged.', code: 40060 } };
      }
      const type = Number(body?.type);
      const data = (body?.data as Record<string, unknown> | undefined) ?? null;
      interaction.callbacks.push({ type, data, at: Date.now() });
      if (type === 4 || type === 5) {
        const msg = makeMessage(
          interaction.channelId,
          type === 4 ? data : { flags: data?.flags ?? 0 },
          files,
          interaction.token,
        );
        interaction.originalMessageId = msg.id;
      }
      return { status: 204 };
    }
    m = /^\/webhooks\/(\d+)\/([^/]+)(\/messages\/([^/]+))?$/.exec(path);
    if (m) {
      const interaction = byToken.get(m[2] ?? '');
      if (!interaction || m[1] !== options.applicationId)
        return { status: 404, json: { message: 'Unknown Webhook', code: 10015 } };
      if (interaction.expired) return invalidWebhook;
      const target = m[4];
      if (!target && method === 'POST') {
        const msg = makeMessage(interaction.channelId, body, files, interaction.token);
        return { status: 200, json: messagePayload(msg) };
      }
      const id = target === '@original' ? interaction.originalMessageId : (target ?? null);
      const msg = id ? messages.get(id) : undefined;
      if (!msg || msg.deleted) return { status: 404, json: { message: 'Unknown Message', code: 10008 } };
      if (method === 'PATCH') {
        applyEdit(msg, body, files);
        return { status: 200, json: messagePayload(msg) };
      }
      if (method === 'GET') return { status: 200, json: messagePayload(msg) };
      if (method === 'DELETE') {
        msg.deleted = true;
        return { status: 204 };
      }
    }
    m = /^\/channels\/(\d+)$/.exec(path);
    if (m && method === 'GET') {
      if (!botAuth) return unauthorized;
      const channel = channels.find((c) => c.id === m?.[1]);
      return channel
        ? { status: 200, json: channelPayload(channel) }
        : { status: 404, json: { message: 'Unknown Channel', code: 10003 } };
    }
    m = /^\/channels\/(\d+)\/messages$/.exec(path);
    if (m && method === 'POST') {
      if (!botAuth) return unauthorized;
      if (!channels.some((c) => c.id === m?.[1]))
        return { status: 404, json: { message: 'Unknown Channel', code: 10003 } };
      const msg = makeMessage(m[1] ?? '', body, files, null);
      return { status: 200, json: messagePayload(msg) };
    }
    m = /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/.exec(path);
    if (m && method === 'PUT') {
      if (!botAuth) return unauthorized;
      if (!messages.has(m[2] ?? ''))
        return { status: 404, json: { message: 'Unknown Message', code: 10008 } };
      return { status: 204 };
    }
    m = /^\/applications\/(\d+)(\/guilds\/(\d+))?\/commands$/.exec(path);
    if (m) {
      if (!botAuth) return unauthorized;
      if (m[1] !== options.applicationId)
        return { status: 403, json: { message: 'Missing Access', code: 50001 } };
      const scope = m[3] ? `guild:${m[3]}` : 'global';
      if (method === 'PUT' && Array.isArray(body)) {
        const saved = (body as Array<Record<string, unknown>>).map((c) => ({
          ...c,
          id: snowflake(),
          application_id: options.applicationId,
          version: snowflake(),
          ...(m?.[3] ? { guild_id: m[3] } : {}),
        }));
        commands.set(scope, saved);
        return { status: 200, json: saved };
      }
      if (method === 'GET') return { status: 200, json: commands.get(scope) ?? [] };
    }
    return { status: 404, json: { message: '404: Not Found', code: 0 } };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake.local');
    if (!url.pathname.startsWith(API_PREFIX)) {
      res.writeHead(404).end();
      return;
    }
    const path = decodeURIComponent(url.pathname.slice(API_PREFIX.length));
    const method = req.method ?? 'GET';
    let parsed: { body: Record<string, unknown> | null; files: RecordedFile[] };
    try {
      parsed = await readBody(req);
    } catch {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ message: 'bad body', code: 50109 }));
      return;
    }
    const auth = typeof req.headers.authorization === 'string' ? req.headers.authorization : null;
    const reply = await route(method, path, parsed.body, parsed.files, auth);
    const record: RecordedRequest = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      authorization: auth,
      body: parsed.body,
      files: parsed.files,
      status: reply.status,
      at: Date.now(),
    };
    requests.push(record);
    const headers: Record<string, string> = {};
    if (reply.json !== undefined) headers['content-type'] = 'application/json';
    res
      .writeHead(reply.status, headers)
      .end(reply.json === undefined ? undefined : JSON.stringify(reply.json));
    events.emit('request', record);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500).end(String(error));
    });
  });

  // ---------- Gateway ----------
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://fake.local');
    if (url.pathname !== '/gateway') {
      socket.destroy();
      return;
    }
    gatewayState.query.push(url.search);
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws));
  });
  wss.on('connection', (ws: WebSocket) => {
    sockets.add(ws);
    ws.on('close', () => {
      sockets.delete(ws);
      identified.delete(ws);
      shardOf.delete(ws);
    });
    send(ws, { op: 10, d: { heartbeat_interval: heartbeatInterval }, s: null, t: null });
    ws.on('message', (raw) => {
      const payload = JSON.parse(String(raw)) as { op: number; d: Record<string, unknown> | number | null };
      if (payload.op === 1) {
        gatewayState.heartbeats++;
        send(ws, { op: 11 });
        events.emit('heartbeat');
        return;
      }
      if (payload.op === 2 && payload.d && typeof payload.d === 'object') {
        const d = payload.d as { token?: string; intents?: number; shard?: [number, number] };
        if (d.token !== options.token) {
          ws.close(4004, 'Authentication failed.');
          return;
        }
        const shard: [number, number] = Array.isArray(d.shard) ? [d.shard[0], d.shard[1]] : [0, 1];
        if (shard[1] !== shardCount || shard[0] < 0 || shard[0] >= shardCount) {
          ws.close(4010, 'Invalid shard.');
          return;
        }
        gatewayState.identifies.push({ intents: Number(d.intents), token: d.token, shard });
        identified.add(ws);
        shardOf.set(ws, shard[0]);
        const ownsGuild = shardFor(guildId) === shard[0];
        seq++;
        send(ws, {
          op: 0,
          t: 'READY',
          s: seq,
          d: {
            v: 10,
            user: botUser,
            guilds: ownsGuild ? [{ id: guildId, unavailable: true }] : [],
            session_id: `session-${seq}`,
            resume_gateway_url: gatewayUrl,
            shard,
            application: { id: options.applicationId, flags: 0 },
          },
        });
        if (!ownsGuild) {
          events.emit('identified');
          return;
        }
        seq++;
        send(ws, {
          op: 0,
          t: 'GUILD_CREATE',
          s: seq,
          d: {
            id: guildId,
            name: 'Fake Guild',
            icon: null,
            owner_id: snowflake(),
            preferred_locale: options.guildLocale ?? 'en-US',
            unavailable: false,
            large: false,
            member_count: 2,
            joined_at: new Date().toISOString(),
            features: [],
            roles: [
              {
                id: guildId,
                name: '@everyone',
                permissions: PERM_VIEW_SEND_USE.toString(),
                position: 0,
                color: 0,
                hoist: false,
                managed: false,
                mentionable: false,
                flags: 0,
              },
            ],
            channels: channels.map(channelPayload),
            threads: [],
            members: [],
            emojis: [],
            stickers: [],
            voice_states: [],
            presences: [],
            stage_instances: [],
            guild_scheduled_events: [],
            soundboard_sounds: [],
            premium_tier: 0,
            verification_level: 0,
            default_message_notifications: 0,
            explicit_content_filter: 0,
            mfa_level: 0,
            nsfw_level: 0,
            system_channel_flags: 0,
          },
        });
        events.emit('identified');
        return;
      }
      if (payload.op === 6) {
        send(ws, { op: 9, d: false });
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const apiUrl = `http://127.0.0.1:${port}/api`;
  const gatewayUrl = `ws://127.0.0.1:${port}/gateway`;

  const member = (userId: string, permissions: bigint) => ({
    user: user(userId),
    roles: [],
    permissions: permissions.toString(),
    joined_at: new Date().toISOString(),
    deaf: false,
    mute: false,
    flags: 0,
    nick: null,
    avatar: null,
    premium_since: null,
    pending: false,
  });

  const buildInteraction = (opts: InvokeOptions, type: 2 | 4): FakeInteraction => {
    const id = snowflake();
    const token = `itoken-${id}-${Math.random().toString(36).slice(2)}`;
    const channelId = opts.channelId ?? channels[0]?.id ?? '';
    const userId = opts.userId ?? '300000000000000001';
    const resolvedChannels: Record<string, unknown> = {};
    const list = Object.entries(opts.options ?? {}).map(([name, value]) => {
      if (typeof value === 'object') {
        const channel = channels.find((c) => c.id === value.channelId);
        resolvedChannels[value.channelId] = channel
          ? {
              id: channel.id,
              name: channel.name,
              type: channel.type ?? 0,
              permissions: '0',
              nsfw: channel.nsfw,
              guild_id: guildId,
            }
          : { id: value.channelId, name: 'elsewhere', type: 0, permissions: '0' };
        return { name, type: 7, value: value.channelId };
      }
      const optType =
        typeof value === 'number' ? (Number.isInteger(value) ? 4 : 10) : typeof value === 'boolean' ? 5 : 3;
      return { name, type: optType, value, ...(opts.focused === name ? { focused: true } : {}) };
    });
    const optionTree = opts.subcommand ? [{ name: opts.subcommand, type: 1, options: list }] : list;
    const channel = channels.find((c) => c.id === channelId);
    const interaction: FakeInteraction = {
      id,
      token,
      channelId,
      userId,
      dispatchedAt: Date.now(),
      expired: false,
      originalMessageId: null,
      callbacks: [],
    };
    interactions.set(id, interaction);
    byToken.set(token, interaction);
    const where = opts.dm
      ? {
          channel_id: channelId,
          channel: { id: channelId, type: 1, last_message_id: null, recipients: [user(userId)] },
          user: user(userId),
          context: 1,
        }
      : {
          guild_id: opts.guildId ?? guildId,
          channel_id: channelId,
          channel: channel
            ? { ...channelPayload(channel), permissions: (opts.permissions ?? PERM_VIEW_SEND_USE).toString() }
            : undefined,
          member: member(userId, opts.permissions ?? PERM_VIEW_SEND_USE),
          guild_locale: options.guildLocale ?? 'en-US',
          context: 0,
        };
    dispatch('INTERACTION_CREATE', {
      id,
      application_id: options.applicationId,
      type,
      token,
      version: 1,
      ...where,
      locale: opts.locale ?? 'en-US',
      app_permissions: PERM_VIEW_SEND_USE.toString(),
      entitlements: [],
      authorizing_integration_owners: { '0': guildId },
      attachment_size_limit: opts.attachmentSizeLimit ?? 10 * 1024 * 1024,
      data: {
        id: snowflake(),
        name: opts.name,
        type: 1,
        options: optionTree,
        ...(Object.keys(resolvedChannels).length > 0 ? { resolved: { channels: resolvedChannels } } : {}),
      },
    });
    return interaction;
  };

  const reactionPayload = (o: { userId: string; channelId: string; messageId: string; emoji: string }) => ({
    user_id: o.userId,
    channel_id: o.channelId,
    message_id: o.messageId,
    guild_id: guildId,
    emoji: { id: null, name: o.emoji },
    burst: false,
    type: 0,
  });

  return {
    apiUrl,
    gatewayUrl,
    requests,
    messages,
    interactions,
    gateway: gatewayState,
    guildId,
    botUserId,
    channels,
    commands,
    invoke: (opts) => buildInteraction(opts, 2),
    autocomplete: (opts) => buildInteraction(opts, 4),
    react: (o) =>
      dispatch('MESSAGE_REACTION_ADD', {
        ...reactionPayload(o),
        member: member(o.userId, PERM_VIEW_SEND_USE),
        message_author_id: botUserId,
      }),
    unreact: (o) => dispatch('MESSAGE_REACTION_REMOVE', reactionPayload(o)),
    setFault(rule) {
      fault = rule;
    },
    deleteChannel(channelId) {
      const index = channels.findIndex((c) => c.id === channelId);
      if (index >= 0) channels.splice(index, 1);
      dispatch('CHANNEL_DELETE', { id: channelId, type: 0, guild_id: guildId, name: 'deleted', position: 0 });
    },
    expire(token) {
      const interaction = byToken.get(token);
      if (interaction) interaction.expired = true;
    },
    waitFor(predicate, timeoutMs = 5_000, label = 'request') {
      const found = requests.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          events.off('request', listener);
          reject(new Error(`fake Discord: timed out after ${timeoutMs} ms waiting for ${label}`));
        }, timeoutMs);
        const listener = (r: RecordedRequest): void => {
          if (!predicate(r)) return;
          clearTimeout(timer);
          events.off('request', listener);
          resolve(r);
        };
        events.on('request', listener);
      });
    },
    ready(timeoutMs = 5_000) {
      if (identified.size > 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('fake Discord: no IDENTIFY')), timeoutMs);
        events.once('identified', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
