//! Local mode: name the field of a request body that does not fit its schema.

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde_json::Value;

/// The first place where `value` does not fit `T`'s schema, as
/// `path: what was expected`; `None` when the shape fits (the failure is then
/// in a value, and the parser's message says which).
pub(crate) fn first_mismatch<T: Type>(value: &Value) -> Option<String> {
    let mut registry = Registry::new();
    T::register(&mut registry);
    walk(value, &T::schema_ref(), &registry, "", 0)
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") }
}

fn shown(path: &str) -> &str {
    if path.is_empty() { "body" } else { path }
}

fn resolve<'a>(schema: &'a MetaSchemaRef, registry: &'a Registry) -> Option<&'a MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(schema) => Some(schema),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name),
    }
}

fn walk(value: &Value, schema: &MetaSchemaRef, registry: &Registry, path: &str, depth: usize) -> Option<String> {
    if depth > 32 {
        return None;
    }
    let schema = resolve(schema, registry)?;
    if !schema.all_of.is_empty() {
        return schema.all_of.iter().find_map(|part| walk(value, part, registry, path, depth + 1));
    }
    let expected = |what: &str| Some(format!("{}: expected {what}", shown(path)));
    match schema.ty {
        "object" => {
            let Some(object) = value.as_object() else { return expected("an object") };
            if let Some(missing) = schema.required.iter().find(|field| object.get(**field).is_none_or(Value::is_null)) {
                return Some(format!("{}: is required", join(path, missing)));
            }
            schema.properties.iter().find_map(|(name, property)| match object.get(*name) {
                None | Some(Value::Null) => None,
                Some(field) => walk(field, property, registry, &join(path, name), depth + 1),
            })
        }
        "array" => {
            let Some(items) = value.as_array() else { return expected("an array") };
            let item_schema = schema.items.as_deref()?;
            items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, item_schema, registry, &format!("{}[{i}]", shown(path)), depth + 1))
        }
        "string" if !value.is_string() => expected("a string"),
        "string" if !schema.enum_items.is_empty() && !schema.enum_items.contains(value) => {
            let allowed: Vec<String> = schema.enum_items.iter().map(Value::to_string).collect();
            expected(&format!("one of {}", allowed.join(", ")))
        }
        "number" if !value.is_number() => expected("a number"),
        "integer" if !(value.is_i64() || value.is_u64()) => expected("an integer"),
        "boolean" if !value.is_boolean() => expected("a boolean"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payments_wire::{CancelHistoryBody, CreateHistoryBody};
    use serde_json::json;

    #[test]
    fn names_the_first_bad_field() {
        let body = json!({"vendor": {"code": "iamport", "store_id": "s", "uid": 5}, "source": {}, "price": 1});
        let found = first_mismatch::<CreateHistoryBody>(&body).unwrap();
        assert!(found == "password: is required" || found == "source.schema: is required", "{found}");
        let body = json!({
            "vendor": {"code": "paypal", "store_id": "s", "uid": "u"},
            "source": {"schema": "a", "table": "b", "id": "c"},
            "price": "1", "password": "p", "webhook_url": "http://h/",
        });
        assert_eq!(
            first_mismatch::<CreateHistoryBody>(&body).unwrap(),
            r#"vendor.code: expected one of "iamport", "toss.payments", "portone""#
        );
        let mut body = body;
        body["vendor"]["code"] = json!("iamport");
        assert_eq!(first_mismatch::<CreateHistoryBody>(&body).unwrap(), "price: expected a number");
        let body = json!({"source": {"schema": "a", "table": "b", "id": "c"}, "password": "p", "price": 1, "reason": "r", "account": {"bank": 1}});
        assert_eq!(first_mismatch::<CancelHistoryBody>(&body).unwrap(), "account.account: is required");
        assert_eq!(first_mismatch::<CreateHistoryBody>(&json!([])).unwrap(), "body: expected an object");
    }
}
