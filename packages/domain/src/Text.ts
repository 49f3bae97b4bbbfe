/**
 * Text the service can keep: no NUL character and no lone UTF-16 surrogate.
 *
 * PostgreSQL refuses NUL in `text` and `jsonb`, and a lone surrogate has no UTF-8 form (it would be
 * stored as U+FFFD, silently changing what the person wrote). Such input is refused where it enters —
 * every free-text field of every schema — so it never reaches storage and fails as a 400 naming the field.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const NUL = "\u0000"
// Without the `u` flag, a regular expression sees UTF-16 code units: a high surrogate not followed by a
// low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * True when `text` holds neither a NUL nor a lone surrogate.
 *
 * @since 0.1.0
 */
export const isStorable = (text: string): boolean => !text.includes(NUL) && !LONE_SURROGATE.test(text)

/**
 * The filter behind {@link isStorable}, for `Schema.String.check(...)`.
 *
 * @since 0.1.0
 */
export const storable = Schema.makeFilter((text: string) =>
  isStorable(text) || "must not contain NUL characters or unpaired surrogates"
)

/**
 * Trimmed text of `min..max` characters that storage accepts.
 *
 * @since 0.1.0
 */
export const trimmed = (min: number, max: number) =>
  Schema.Trim.check(storable, Schema.isMinLength(min), Schema.isMaxLength(max))

/**
 * Untrimmed text of `min..max` characters that storage accepts (filters, keys).
 *
 * @since 0.1.0
 */
export const plain = (min: number, max: number) =>
  Schema.String.check(storable, Schema.isMinLength(min), Schema.isMaxLength(max))
