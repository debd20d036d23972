/** Errors of image handling; their messages become units' waiting reasons, so they say why. */
import { MilpaError } from "../../model/errors.ts";

/** An image that cannot be pulled, verified or unpacked. */
export class ImageError extends MilpaError {}

/** A reference that cannot be parsed. */
export class ImageReferenceError extends ImageError {}

/** A registry refused access: credentials are missing or wrong. */
export class RegistryAuthError extends ImageError {}

/** Downloaded bytes do not match the digest (or size) that named them. */
export class DigestMismatchError extends ImageError {}

/** The registry does not have the repository, tag or blob. */
export class RegistryNotFoundError extends ImageError {}
