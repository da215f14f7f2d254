package dev.backup.protocol;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;

/**
 * One control frame. Header (20 bytes, big-endian):
 * <pre>
 *   magic    int32  0x424B5550 ("BKUP")
 *   version  int8   1
 *   op       int8   {@link Op}
 *   flags    int16  0 (reserved)
 *   request  int64  request id, echoed in the answer
 *   length   int32  body length, at most {@link #MAX_BODY}
 * </pre>
 * followed by the body, a UTF-8 JSON object carrying a "v" (version) field. File bytes
 * never travel in a frame body: after a PUT frame they are streamed raw.
 */
public record Frame(Op op, long requestId, JsonObject body) {
  public static final int MAGIC = 0x424B5550;
  public static final byte VERSION = 1;
  public static final int HEADER_LENGTH = 20;
  public static final int MAX_BODY = 1 << 20;

  public Frame {
    if (body == null) {
      body = new JsonObject();
    }
  }

  public Buffer encode() {
    JsonObject b = body.containsKey("v") ? body : body.copy().put("v", 1);
    Buffer json = b.toBuffer();
    if (json.length() > MAX_BODY) {
      throw new BackupException(ErrorCode.PROTOCOL, "frame body too large: " + json.length());
    }
    Buffer buf = Buffer.buffer(HEADER_LENGTH + json.length());
    buf.appendInt(MAGIC).appendByte(VERSION).appendByte((byte) op.code()).appendShort((short) 0)
        .appendLong(requestId).appendInt(json.length()).appendBuffer(json);
    return buf;
  }

  public static Frame error(long requestId, ErrorCode code, String message) {
    return new Frame(Op.ERROR, requestId, new BackupException(code, message).toJson());
  }

  public static Frame error(long requestId, Throwable t) {
    BackupException be = BackupException.wrap(t);
    return error(requestId, be.code(), be.getMessage());
  }

  /** The failure an ERROR frame carries. */
  public BackupException toException() {
    return BackupException.fromJson(body);
  }
}
