package dev.backup.protocol;

import io.vertx.core.eventbus.ReplyException;

/** The one error type of the system: a stable code and a message meant for people. */
public class BackupException extends RuntimeException {
  private final ErrorCode code;

  public BackupException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public BackupException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  /** As a peer is told it: {@code code} and {@code message} (an ERROR frame's body, a batch item's failure). */
  public io.vertx.core.json.JsonObject toJson() {
    return new io.vertx.core.json.JsonObject().put("code", code.code()).put("message", getMessage());
  }

  /** The failure a peer told of with {@link #toJson()}. */
  public static BackupException fromJson(io.vertx.core.json.JsonObject j) {
    return new BackupException(ErrorCode.of(j.getInteger("code", 1)), j.getString("message", "unknown error"));
  }

  public ErrorCode code() {
    return code;
  }

  /**
   * A failure met while handling a peer's request. A field of the wrong type (a string
   * where a number belongs) or a null where a value belongs is the peer's mistake and is
   * said as such, not as an internal error.
   */
  public static BackupException fromRequest(Throwable t) {
    if (t instanceof ClassCastException) {
      return new BackupException(ErrorCode.PROTOCOL, "malformed request: a field has the wrong type", t);
    }
    if (t instanceof NullPointerException) {
      return new BackupException(ErrorCode.PROTOCOL, "malformed request: a field is missing or null", t);
    }
    return wrap(t);
  }

  /** Turns any failure into a BackupException, keeping the code of event-bus failures. */
  public static BackupException wrap(Throwable t) {
    if (t instanceof BackupException be) {
      return be;
    }
    if (t instanceof ReplyException re) {
      if (re.failureCode() > 0) {
        return new BackupException(ErrorCode.of(re.failureCode()), re.getMessage(), re);
      }
      return switch (re.failureType()) {
        case TIMEOUT -> new BackupException(ErrorCode.TIMEOUT, "no answer in time: " + re.getMessage(), re);
        case NO_HANDLERS -> new BackupException(ErrorCode.CONNECTION, "peer not reachable: " + re.getMessage(), re);
        default -> new BackupException(ErrorCode.INTERNAL, String.valueOf(re.getMessage()), re);
      };
    }
    if (t instanceof javax.net.ssl.SSLException ssl) {
      return new BackupException(ErrorCode.CONNECTION, tlsProblem(ssl), t);
    }
    if (t instanceof java.net.ConnectException || t instanceof io.netty.channel.ConnectTimeoutException) {
      return new BackupException(ErrorCode.CONNECTION, t.getMessage(), t);
    }
    if (t instanceof java.nio.file.NoSuchFileException) {
      return new BackupException(ErrorCode.NOT_FOUND, "no such file: " + t.getMessage(), t);
    }
    if (t instanceof java.io.IOException) {
      return new BackupException(ErrorCode.IO, String.valueOf(t.getMessage()), t);
    }
    return new BackupException(ErrorCode.INTERNAL, String.valueOf(t.getMessage()), t);
  }

  /** Why a connection failed, in words: the TLS problem when it was one, else the error's message. */
  public static String reason(Throwable t) {
    return t instanceof javax.net.ssl.SSLException ssl ? tlsProblem(ssl) : String.valueOf(t.getMessage());
  }

  /** What a failed TLS connection means, in words: which side to look at. */
  public static String tlsProblem(javax.net.ssl.SSLException e) {
    Throwable root = e;
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof io.netty.handler.ssl.NotSslRecordException) {
        return "the peer does not speak TLS (turn tls on at both ends, or off at both)";
      }
      if (c instanceof java.security.cert.CertificateException) {
        return "TLS: the peer's certificate is not accepted (it must be signed by the tls-ca certificate and name"
            + " the host it is reached at): " + c.getMessage();
      }
      root = c;
    }
    String m = String.valueOf(root.getMessage());
    if (m.contains("closed") || m.contains("timed out")) {
      return "TLS handshake failed: " + m + " (does the peer use TLS, and does it trust this side?)";
    }
    return "TLS error: " + m;
  }

}
