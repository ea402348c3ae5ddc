package org.reusevos.demo.core

/** The few JSON pieces the app writes and reads (plain Kotlin; org.json exists only on the phone). */
object Json {
    fun quote(text: String): String {
        val sb = StringBuilder("\"")
        for (ch in text) {
            when {
                ch == '"' -> sb.append("\\\"")
                ch == '\\' -> sb.append("\\\\")
                ch == '\n' -> sb.append("\\n")
                ch < ' ' -> sb.append(String.format("\\u%04x", ch.code))
                else -> sb.append(ch)
            }
        }
        return sb.append('"').toString()
    }

    /** A number token, or null for NaN and infinities (JSON has none). */
    fun number(value: Double): String = if (value.isFinite()) value.toString() else "null"

    /** An object from (key, JSON token) pairs, in order. */
    fun obj(vararg members: Pair<String, String>): String =
        members.joinToString(",", "{", "}") { (k, v) -> quote(k) + ":" + v }

    fun array(tokens: List<String>): String = tokens.joinToString(",", "[", "]")

    /** The first string member `key` in a document (a manifest's "target"), or null. */
    fun stringMember(document: String, key: String): String? =
        Regex("\"" + Regex.escape(key) + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").find(document)?.groupValues?.get(1)
}
