package dev.backup.protocol;

/** Operation codes of the wire protocol. */
public enum Op {
  /** client → manager: a control request, JSON body with an "op" field. */
  REQUEST(1),
  /** answer to a REQUEST, PUT or COMMIT that succeeded; JSON body. */
  RESPONSE(2),
  /** answer saying something failed; JSON body {code, message}. */
  ERROR(3),
  /** client or server → server: store a file; JSON body {ticket, hop}; then exactly size raw bytes. */
  PUT(4),
  /** after the raw bytes of a PUT: JSON body {sha256} as computed by the sender. */
  COMMIT(5),
  /** client → server: send a stored copy; JSON body {ticket, offset}; answered by a RESPONSE {size, sha256} and the raw bytes. */
  GET(6);

  private final int code;

  Op(int code) {
    this.code = code;
  }

  public int code() {
    return code;
  }

  public static Op of(int code) {
    for (Op op : values()) {
      if (op.code == code) {
        return op;
      }
    }
    return null;
  }
}
