import type { Clock, Logger } from '../analysis/ports.ts';
import type { FeedbackStore, VoteOutcome } from '../storage/feedback-store.ts';
import { emojiMatches, type FeedbackEmoji } from './emoji.ts';

export interface ReactionEvent {
  kind: 'add' | 'remove';
  messageId: string;
  userId: string;
  emoji: { id: string | null; name: string | null };
  /** True for bots, including this one (its own seed reaction is not a vote). */
  byBot: boolean;
}

export interface FeedbackHandlerDeps {
  feedback: FeedbackStore;
  emoji: FeedbackEmoji;
  clock: Clock;
  logger: Logger;
}

/**
 * A feedback reaction on a report item line: add = false-positive vote, remove = withdrawal.
 * Resolves the vote outcome, or null when the reaction is not feedback (other emoji, other message, bot).
 */
export async function handleReaction(
  event: ReactionEvent,
  deps: FeedbackHandlerDeps,
): Promise<VoteOutcome | null> {
  if (event.byBot || !emojiMatches(deps.emoji, event.emoji)) return null;
  const item = await deps.feedback.itemForMessage(event.messageId);
  if (!item) return null;
  const outcome =
    event.kind === 'add'
      ? await deps.feedback.vote(item.itemKey, event.userId, deps.clock.now())
      : await deps.feedback.withdraw(item.itemKey, event.userId);
  deps.logger.info(
    {
      kind: event.kind,
      item: item.itemKey,
      detector: item.detector,
      model: item.modelId,
      user: event.userId,
      votes: outcome.votes,
      disputed: outcome.disputed,
      changed: outcome.changed,
    },
    'feedback reaction',
  );
  return outcome;
}
