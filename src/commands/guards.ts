import { PermissionFlagsBits } from 'discord.js';
import { type MessageKey, t } from '../i18n/index.ts';
import type { Guard } from './types.ts';

/** Refuse outside a server. */
export const guildOnly: Guard = (ctx) =>
  ctx.guildId === null || ctx.memberPermissions === null
    ? { ok: false, key: 'guard.guildOnly' }
    : { ok: true };

const PERMISSION_NAMES: Partial<Record<keyof typeof PermissionFlagsBits, MessageKey>> = {
  ManageChannels: 'perm.ManageChannels',
};

/** Require a permission at run time too (server admins can override `default_member_permissions`). */
export function requirePermission(name: keyof typeof PermissionFlagsBits): Guard {
  const bit = PermissionFlagsBits[name];
  return (ctx) => {
    const perms = ctx.memberPermissions;
    if (perms === null) return { ok: false, key: 'guard.guildOnly' };
    const allowed = (perms & bit) === bit || (perms & PermissionFlagsBits.Administrator) !== 0n;
    if (allowed) return { ok: true };
    const key = PERMISSION_NAMES[name];
    return { ok: false, key: 'guard.permission', params: { permission: key ? t(ctx.locale, key) : name } };
  };
}
