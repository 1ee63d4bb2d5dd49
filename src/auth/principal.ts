/** Who is calling, as established from a verified token. */
export interface Principal {
  subject: string;
  email?: string;
  isPlatformOwner: boolean;
  /** Organization slug the token is bound to, if any. */
  org?: string;
  /** Present on end-user service tokens, which may not read analytics. */
  service?: string;
  scopes: ReadonlySet<string>;
}
