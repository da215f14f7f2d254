package dev.backup.protocol;

/**
 * Stable error codes. The numeric code travels on the wire and over the event bus
 * ({@code message.fail(code, text)}); the exit code is what the command line returns.
 */
public enum ErrorCode {
  INTERNAL(1, 1),
  USAGE(2, 2),
  NOT_FOUND(3, 3),
  NOT_ENOUGH_SERVERS(4, 4),
  INTEGRITY(5, 5),
  CONNECTION(6, 6),
  TIMEOUT(7, 6),
  PROTOCOL(8, 7),
  DENIED(9, 8),
  DISK_FULL(10, 9),
  IO(11, 10),
  EXISTS(12, 11),
  CANCELLED(13, 130),
  /** verify --local: the client's files differ from their latest backups. */
  DIFFERS(14, 12),
  /** A user's quota would be exceeded. */
  QUOTA(15, 13);

  private final int code;
  private final int exitCode;

  ErrorCode(int code, int exitCode) {
    this.code = code;
    this.exitCode = exitCode;
  }

  public int code() {
    return code;
  }

  public int exitCode() {
    return exitCode;
  }

  public static ErrorCode of(int code) {
    for (ErrorCode c : values()) {
      if (c.code == code) {
        return c;
      }
    }
    return INTERNAL;
  }
}
