"""CUE from the structural schema of a model: KubeVela's `parameter` of a definition.

KubeVela reads the parameter's documentation from `// +usage=` comments
(kubevela docs: platform-engineers/cue/definition-edit). Defaults become CUE
defaults (`*value | type`), so `vela show` lists them; fields without one are
optional (`?`). CUE's regular expressions are RE2, the same dialect the API
server's OpenAPI patterns are written for.
"""

import json
from dataclasses import dataclass, field

from generate.schema import Schema

INDENT = "\t"


@dataclass
class Cue:
    """CUE text being built, and the packages it needs."""

    imports: set[str] = field(default_factory=set)

    def type_of(self, schema: Schema, depth: int) -> str:
        """The CUE type of a schema node (without its default)."""
        if "enum" in schema:
            return " | ".join(json.dumps(v) for v in schema["enum"])
        if schema.get("x-kubernetes-int-or-string"):
            return "int | string"
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind in ("integer", "number"):
            return self._number(schema, "int" if kind == "integer" else "number")
        if kind == "string":
            return self._string(schema)
        if kind == "boolean":
            return "bool"
        raise ValueError(f"no CUE type for schema {schema}")

    def _number(self, schema: Schema, base: str) -> str:
        parts = [base]
        if "minimum" in schema:
            parts.append(f">={schema['minimum']}")
        if "maximum" in schema:
            parts.append(f"<={schema['maximum']}")
        if "exclusiveMinimum" in schema:
            parts.append(f">{schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema:
            parts.append(f"<{schema['exclusiveMaximum']}")
        return " & ".join(parts)

    def _string(self, schema: Schema) -> str:
        parts = ["string"]
        if "pattern" in schema:
            parts.append(f"=~{json.dumps(schema['pattern'])}")
        for key, fn in (("minLength", "MinRunes"), ("maxLength", "MaxRunes")):
            if key in schema:
                self.imports.add("strings")
                parts.append(f"strings.{fn}({schema[key]})")
        return " & ".join(parts)

    def _array(self, schema: Schema, depth: int) -> str:
        item = self.type_of(schema.get("items", {"type": "string"}), depth)
        parts = [f"[...{item}]"]
        for key, fn in (("minItems", "MinItems"), ("maxItems", "MaxItems")):
            if key in schema:
                self.imports.add("list")
                parts.append(f"list.{fn}({schema[key]})")
        return " & ".join(parts)

    def _object(self, schema: Schema, depth: int) -> str:
        properties: Schema = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        if not properties:
            if isinstance(extra, dict):
                return f"{{[string]: {self.type_of(extra, depth)}}}"
            return "{...}"
        required = set(schema.get("required", []))
        pad = INDENT * (depth + 1)
        lines = ["{"]
        for name, prop in properties.items():
            if prop.get("description"):
                usage = " ".join(str(prop["description"]).split())
                lines.append(f"{pad}// +usage={usage}")
            lines.append(f"{pad}{self.field(name, prop, name in required, depth + 1)}")
        lines.append(INDENT * depth + "}")
        return "\n".join(lines)

    def field(self, name: str, schema: Schema, required: bool, depth: int) -> str:
        """One field: `name: type`, `name: *default | type` or `name?: type`."""
        label = name if name.isidentifier() else json.dumps(name)
        kind = self.type_of(schema, depth)
        default = schema.get("default")
        if default is not None and not isinstance(default, dict | list):
            return f"{label}: *{json.dumps(default)} | {kind}"
        return f"{label}{'' if required else '?'}: {kind}"

    def header(self) -> str:
        """The import block for what the text used."""
        if not self.imports:
            return ""
        return "".join(f'import "{pkg}"\n' for pkg in sorted(self.imports)) + "\n"
