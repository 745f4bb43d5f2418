<?php
// The truth about a SAML message as it went over the wire: reads a
// SAMLRequest or SAMLResponse value on stdin (argv[1]: `redirect` for the
// HTTP-Redirect binding's deflated form, `post` for HTTP-POST's plain
// base64), parses it with PHP's DOM and prints what the interop cases
// assert, as JSON.
$binding = $argv[1] ?? 'post';
$raw = base64_decode(trim(stream_get_contents(STDIN)), true);
if ($raw === false) {
    fwrite(STDERR, "not base64\n");
    exit(1);
}
if ($binding === 'redirect') {
    $raw = gzinflate($raw);
    if ($raw === false) {
        fwrite(STDERR, "not deflated\n");
        exit(1);
    }
}
$doc = new DOMDocument();
if (!$doc->loadXML($raw)) {
    fwrite(STDERR, "not XML\n");
    exit(1);
}
$xp = new DOMXPath($doc);
$xp->registerNamespace('samlp', 'urn:oasis:names:tc:SAML:2.0:protocol');
$xp->registerNamespace('saml', 'urn:oasis:names:tc:SAML:2.0:assertion');
$root = $doc->documentElement;
$attr = function ($name) use ($root) {
    return $root->hasAttribute($name) ? $root->getAttribute($name) : null;
};
$text = function ($query) use ($xp) {
    $nodes = $xp->query($query);
    return $nodes->length > 0 ? trim($nodes->item(0)->textContent) : null;
};
$codes = [];
foreach ($xp->query('/samlp:Response/samlp:Status//samlp:StatusCode') as $node) {
    $codes[] = $node->getAttribute('Value');
}
echo json_encode([
    'element' => $root->localName,
    'force_authn' => $attr('ForceAuthn'),
    'is_passive' => $attr('IsPassive'),
    'destination' => $attr('Destination'),
    'status_codes' => $codes,
    'status_message' => $text('/samlp:Response/samlp:Status/samlp:StatusMessage'),
    'assertions' => $xp->query('/samlp:Response/saml:Assertion | /samlp:Response/saml:EncryptedAssertion')->length,
    'uid' => $text("//saml:Attribute[@Name='uid']/saml:AttributeValue"),
]), "\n";
